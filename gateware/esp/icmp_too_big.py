"""ICMP "fragmentation needed" answers to frames the outbound path drops as too big (RFC 792 type
3 code 4, RFC 1191 §4, RFC 4301 §8.1-8.2), as the model's `espline.sim.model.icmp` builds them.

A passive tap: it watches the outbound jobs and stored frames go from the intake to the
encapsulator (every plaintext frame passes there once, in order, with its job) and never
back-pressures them. Per job it steps the rate limit's frame count; for a frame whose job says
too-big it writes the answer (at most 114 bytes) into a lossy queue (`slot_queue.py`) as the
frame passes and, two cycles after its last beat (the tap is registered), decides: the answer is
committed if the packet is answerable (DF, not an ICMP error, ... : docs/model.md) and a token
is left (`icmp_sent`), else dropped (`icmp_limited` if only the token lacked). The queue's
reader is `o`: a slow `o` loses answers (`icmp_lost`), it never stalls the datapath
(docs/invariants.md §8).

The answer is the frame's Ethernet header (addresses swapped, tag kept), 28 bytes of IPv4 and
ICMP headers made here, and the quote (RFC 792: the IPv4 header and the 8 bytes after it), the
frame's bytes from its IPv4 header on, 28 bytes further on: the quote's beats are written
straight from the frame's as they pass; the beats before them, from the bytes kept of the
frame's first 96 (`CAPTURE`), a beat per beat taken once those are all in and the headers'
fields have settled through their three register stages. A too-big frame is at least 530 bytes
long (`mtu` >= 576), so all of it is written before its last beat, and the next frame's writes
come after its decision.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..packet import beat_layout, packet_signature
from ..slot_queue import SlotQueue
from .ipv4_header import big_endian, end_around_carry, word_sum
from .outbound_control import wire
from .parser import VLAN_TAGS

ERROR_TYPES = (3, 4, 5, 11, 12)  # ICMP errors, never answered (RFC 1122 §3.2.2)
CAPTURE = 96  # bytes of a frame watched: a tagged Ethernet header, the longest IPv4 header, 8 bytes
BODY = 20 + 8  # the answer's IPv4 and ICMP headers, between its Ethernet header and the quote
ANSWER = 18 + BODY + 68  # the longest answer

IcmpCounts = data.StructLayout({"icmp_sent": 1, "icmp_limited": 1, "icmp_lost": 1})
#: What is kept of a job: the frame is too big; the SA's mode, NAT-T, ICV bytes and source address.
Kept = data.StructLayout({"too_big": 1, "tunnel": 1, "natt": 1, "icv_len": 5, "src": 32})


def beats(n_bytes: int, width: int) -> int:
    return -(-n_bytes // width)


class IcmpTooBig(wiring.Component):
    """Taps `job`/`job_taken` (the outbound job layout, with `too_big`, `tunnel`, `natt`, `outer`,
    `gcm.icv_len`) and `beat`/`beat_taken` (its frame); answers on `o`. `mtu` as the outbound
    control's; a token per `every` frames, at most `burst` (the model's `icmp.RateLimit`)."""

    def __init__(self, job: data.StructLayout, *, mtu: int = 9000, every: int = 16, burst: int = 4,
                 width: int = 16, queue_bytes: int = 512):
        if CAPTURE % width or width & (width - 1):
            raise ValueError(f"width: {width} bytes is not a power of two dividing the capture ({CAPTURE})")
        if not 576 <= mtu <= 65535 or every < 1 or burst < 0:
            raise ValueError(f"mtu {mtu} (576..65535), every {every} (>= 1), burst {burst} (>= 0)")
        self.mtu, self.every, self.burst, self.width = mtu, every, burst, width
        self.queue_beats = queue_bytes // width  # room for four longest answers by default
        super().__init__({
            "job": In(job), "job_taken": In(1),
            "beat": In(beat_layout(width)), "beat_taken": In(1),
            "o": Out(packet_signature(width)),
            "counts": Out(IcmpCounts),
            "passed": Out(1),  # a too-big frame has passed and been decided (its answer, if any, kept)
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width
        slot = beats(ANSWER, w)
        m.submodules.queue = queue = SlotQueue(w, self.queue_beats, slot)
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # the answer's beats: those before the quote's (`header_beats`: the Ethernet header, BODY
        # and the quote's first bytes, `head` frame bytes), then the quote's: answer beat
        # `shift` + n is frame beat n (the last `lag` bytes of beat n - 1, then its first bytes)
        shift, lag = divmod(BODY, w)
        header_beats_max = beats(18 + BODY, w)
        head_bytes = w * header_beats_max - BODY
        start = CAPTURE // w + 3  # the frame's beat the header beats start at: all kept, the stages settled
        shortest_last = beats(14 + BODY + 28, w) - 1
        assert 18 // w + 2 <= shortest_last - shift, "the answer's length settles late"
        assert slot - shift <= start and start + header_beats_max <= 530 // w, "the writes overlap or end late"

        # -- watch, a cycle behind the tap (the encapsulator's `ready`, in `job_taken` and
        # `beat_taken`, ends at these registers): the job, then its frame's beats
        tap_job, job_taken, beat, beat_taken = Signal(self.job.shape()), Signal(), Signal(self.beat.shape()), Signal()
        m.d.sync += [tap_job.eq(self.job), job_taken.eq(self.job_taken), beat.eq(self.beat),
                     beat_taken.eq(self.beat_taken)]
        job = Signal(Kept)  # what the answer needs of the job
        index = Signal(range(start + header_beats_max + 1))  # the frame's beats so far, up to the writes' end
        decide = Signal()  # the cycle after the last beat of a too-big frame (as registered)
        with m.If(job_taken):
            j = tap_job
            m.d.sync += [job.too_big.eq(j.too_big), job.tunnel.eq(j.tunnel), job.natt.eq(j.natt),
                         job.icv_len.eq(j.gcm.icv_len), job.src.eq(big_endian(j.outer, 12, 4)), index.eq(0)]
        m.d.sync += decide.eq(0)
        with m.If(beat_taken):
            with m.If(index < start + header_beats_max):
                m.d.sync += index.eq(index + 1)
            with m.If(beat.last):
                m.d.sync += decide.eq(job.too_big)

        # -- kept as the beats pass: the frame's first `head_bytes` and the IPv4 fixed header,
        # whichever its offset (the tag known from its beat on)
        head, ip = Signal(8 * head_bytes), Signal(8 * 20)
        data = beat.data

        def at(position):
            """Whether this beat holds the frame's byte at a constant position; that byte."""
            number, lane = divmod(position, w)
            return index == number, data.word_select(lane, 8)

        def keep(target, byte, when, value):
            with m.If(beat_taken & when):
                m.d.sync += target.word_select(byte, 8).eq(value)

        for byte in range(head_bytes):
            keep(head, byte, *at(byte))
        type_now = [Mux(here, value, head.word_select(12 + i, 8)) for i, (here, value) in enumerate(map(at, (12, 13)))]
        tagged_now = Cat(type_now[1], type_now[0]).matches(*VLAN_TAGS)
        # the tag, as its bytes land in `head`: kept as a flag, not decoded from them
        tagged = Signal()
        with m.If(beat_taken & at(13)[0]):
            m.d.sync += tagged.eq(tagged_now)
        for byte in range(20):
            (untagged, value), (tagged_, value_tagged) = at(14 + byte), at(18 + byte)
            keep(ip, byte, Mux(tagged_now, tagged_, untagged), Mux(tagged_now, value_tagged, value))

        # -- the packet and whether it is answered (docs/model.md) -------------------------------
        ihl = Signal(6)  # bytes / 4
        m.d.comb += ihl.eq(ip[:4])
        header_bytes = Signal(7)
        m.d.comb += header_bytes.eq(4 * ihl)
        total = big_endian(ip, 2, 2)
        # the 8 bytes after the header (the quote's end, RFC 792), kept as their beat passes: byte
        # k is the frame's byte 14 or 18 (tagged) + 4 x IHL + k, so in a lane fixed modulo 4 (IHL
        # and the tag are known by then: its beat is at least 20 bytes past them)
        after = Signal(8 * 8)
        behind = Signal(signed(16))  # this beat's first byte, from the end of the header
        m.d.comb += behind.eq(index * w - Mux(tagged, 18, 14) - header_bytes)
        step = min(w, 4)
        for byte in range(8):
            for lane in range((14 + byte) % step, w, step):
                keep(after, byte, behind == byte - lane, data.word_select(lane, 8))
        first_l4 = after[:8]  # the ICMP type, if ICMP
        is_error = (ip[8 * 9 : 8 * 10] == 1) & (total > header_bytes) & Cat(first_l4 == t for t in ERROR_TYPES).any()
        flags = big_endian(ip, 6, 2)
        src_net, dst_net = ip[8 * 12 : 8 * 13], ip[8 * 16 : 8 * 17]
        # the decision and the answer's fields are registered as they settle, in three stages: the
        # job and the kept bytes hold from the capture's end to the decision
        answerable = Signal()
        m.d.sync += answerable.eq(flags[14] & (flags[:13] == 0) & ~is_error & (src_net != 0) & (src_net != 127)
                                  & (src_net < 224) & (dst_net < 224))

        # -- next-hop MTU (RFC 1191 §4): the largest inner packet that fits once protected -------
        room = Signal(17)
        m.d.comb += room.eq(self.mtu - Mux(job.tunnel, 20, header_bytes) - Mux(job.natt, 8, 0) - 16 - job.icv_len)
        next_hop = Signal(16)
        m.d.sync += next_hop.eq(Cat(Const(0, 2), room[2:]) - 2 + Mux(job.tunnel, 0, header_bytes))

        # -- the answer's IPv4 and ICMP headers: the quote is the header and the 8 bytes after it,
        # all within a too-big packet (longer than `mtu` >= 576 bytes)
        ip_length, length, src = Signal(16), Signal(range(ANSWER + 1)), Signal(32)
        m.d.sync += [ip_length.eq(BODY + header_bytes + 8), length.eq(Mux(tagged, 18, 14) + BODY + header_bytes + 8),
                     src.eq(Mux(job.tunnel, job.src, big_endian(ip, 16, 4)))]
        # RFC 1071 §1: the quoted IPv4 header's words sum to 0xffff (the parser checked it: a
        # too-big frame is well-formed IPv4), which adds nothing to a one's-complement sum that
        # is not zero (0x0304 makes it so): the checksum sums only the quoted bytes after it
        # (the words added at the second stage, the sums folded at the third)
        dst = big_endian(ip, 12, 4)
        icmp_words, ip_words = Signal(19), Signal(19)
        quoted = [big_endian(after, 2 * i, 2) for i in range(4)]
        m.d.sync += [icmp_words.eq(word_sum([Const(0x0304, 16), next_hop, *quoted])),
                     ip_words.eq(word_sum([Const(0x4500, 16), ip_length, Const(0x4001, 16), src[16:], src[:16],
                                           dst[16:], dst[:16]]))]
        icmp_sum, ip_sum = ~end_around_carry(icmp_words), ~end_around_carry(ip_words)
        body = Signal(8 * BODY)
        m.d.sync += body.eq(wire((0x4500, 2), (ip_length, 2), (0, 4), (0x4001, 2), (ip_sum[:16], 2), (src, 4),
                                 (dst, 4), (0x0304, 2), (icmp_sum[:16], 2), (0, 2), (next_hop, 2)))

        # -- the beats before the quote's: an untagged answer's are a tagged one's without bytes
        # 12..15; where those are whole beats (a width dividing 4) the writer skips them, else the
        # beats are laid out without them
        ethernet = Cat(head[8 * 6 : 8 * 12], head[: 8 * 6])  # the addresses swapped
        skips_tag = 4 % w == 0
        if skips_tag:
            rest = Mux(tagged, head[8 * 16 :], head[8 * 12 : 8 * (head_bytes - 4)])  # the EtherType on
            before = Cat(ethernet, head[8 * 12 : 8 * 16], rest[:16], body, rest[16:])
        else:
            before = Mux(tagged, Cat(ethernet, head[8 * 12 : 8 * 18], body, head[8 * 18 :]),
                         Cat(ethernet, head[8 * 12 : 8 * 14], body, head[8 * 14 :]))
        header_beats = Mux(tagged, header_beats_max, beats(14 + BODY, w))

        # -- the rate limit (the model's icmp.RateLimit): a token per `every` frames, `burst` at most
        frames = Signal(range(max(self.every, 2)))
        tokens = Signal(range(self.burst + 1), init=self.burst)
        send = decide & answerable & (tokens != 0)
        m.d.comb += [self.passed.eq(decide), self.counts.icmp_sent.eq(send),
                     self.counts.icmp_limited.eq(decide & answerable & (tokens == 0)),
                     self.counts.icmp_lost.eq(queue.dropped)]
        left = Signal.like(tokens)  # after this cycle's answer, before this cycle's frame's token
        m.d.comb += left.eq(tokens - send)
        with m.If(job_taken):
            gains = frames == self.every - 1
            m.d.sync += frames.eq(Mux(gains, 0, frames + 1))
            m.d.sync += tokens.eq(Mux(gains & (left < self.burst), left + 1, left))
        with m.Else():
            m.d.sync += tokens.eq(left)

        # -- write the answer as the frame passes; commit or drop it at the decision ------------
        tail = Signal(8 * lag)  # the last `lag` bytes of the previous beat
        if lag:
            with m.If(beat_taken):
                m.d.sync += tail.eq(data[8 * (w - lag) :])
        quote_beat = Signal(range(start + header_beats_max + shift + 1))
        header_beat = Signal(range(header_beats_max + 1))
        m.d.comb += [quote_beat.eq(index + shift), header_beat.eq(index - start)]
        in_header = (index >= start) & (header_beat < header_beats)
        in_quote = (quote_beat >= header_beats) & (quote_beat < slot)
        # the beat of `before` a header beat writes, counted as the beats pass (not added to the
        # header beat's number): past bytes 12..15 (whole beats) in an untagged answer
        slot_of = Signal(range(header_beats_max + 4 // w + 1))
        with m.If(job_taken):
            m.d.sync += slot_of.eq(0)
        with m.Elif(beat_taken & (index >= start) & (index < start + header_beats_max)):
            skip = ~tagged & (slot_of == 12 // w - 1) if skips_tag else 0
            m.d.sync += slot_of.eq(slot_of + 1 + Mux(skip, 4 // w, 0))
        last_beat, last_bytes = (length - 1)[w.bit_length() - 1 :], (length - 1)[: w.bit_length() - 1] + 1
        # `length` settles two beats after IHL's (frame byte 14 or 18), before the shortest answer's
        # last beat (70 bytes): no quote beat before that is the last, whatever the stale `length`
        last = (quote_beat == last_beat) & (quote_beat >= shortest_last)  # never so past the quote
        q = queue  # its writes registered: they land a cycle later, long before the decision
        m.d.sync += [q.write.eq(beat_taken & job.too_big & (in_header | in_quote)),
                     q.offset.eq(Mux(in_header, header_beat, quote_beat)),
                     q.beat.data.eq(Mux(in_header, before.word_select(slot_of, 8 * w),
                                        Cat(tail, data[: 8 * (w - lag)]))),
                     q.beat.first.eq(in_header & (header_beat == 0)), q.beat.last.eq(last),
                     q.beat.nbytes.eq(Mux(last, last_bytes, w))]
        m.d.comb += [q.close.eq(decide), q.commit.eq(send), q.length.eq(last_beat + 1)]
        return m
