"""ESP trailer check on the plaintext: pad length, next header and the padding bytes
(RFC 4303 §2.4-§2.6), plus what the inbound commit checks of the inner packet: its first 20
bytes, the 4 after its IPv4 header (the ports, RFC 4301 §4.4.1.1) and that header's checksum
verdict (RFC 1071), all kept as the plaintext passes, one record a frame.

The plaintext is payload ‖ padding ‖ pad length ‖ next header; the padding must be exactly
1, 2, ..., pad length (§2.4, the default padding the receiver checks) and fit the plaintext,
as the reference model's `esp.decapsulate` checks. Without knowing the pad length in advance,
the check tracks whether each byte b ends a run 1, 2, ..., b (`seq`: b == 1, or the previous
byte is b - 1 and ended a run too); the padding is good iff the pad length is 0
or the byte before the pad-length byte ends a run and equals the pad length.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature
from .ipv4_checksum import HeaderChecksum

HEAD = 20  # plaintext bytes kept from the start: a tunnel's inner IPv4 header without options
AFTER = 4  # bytes kept after the inner header's 4 x IHL: the ports

TrailerLayout = data.StructLayout({
    "length": 16,  # plaintext bytes
    "payload_len": 16,  # length - 2 - pad_len (meaningful when pad_ok)
    "pad_len": 8,
    "next_header": 8,
    "pad_ok": 1,  # pad_len + 2 <= length and the padding is 1, 2, ..., pad_len
    # the plaintext's first HEAD bytes, and the AFTER bytes after its first 4 x IHL bytes (IHL
    # the low nibble of byte 0), byte 0 lowest; past `length`: undefined
    "head": 8 * HEAD,
    "after_header": 8 * AFTER,
    # the first 4 x IHL plaintext bytes, as an IPv4 header, pass its checksum (when `length` holds them)
    "head_checksum_ok": 1,
})


class EspTrailer(wiring.Component):
    """Pass plaintext frames from `i` to `o` unchanged (no added latency); emit one
    `TrailerLayout` record per frame on `trailer`, from the second cycle after its last beat.
    The record is queued the cycle after the last beat, with the header checksum's verdict: its
    length, first bytes and ports are then in their registers, and its pad length, next header
    and padding run in three of their own, so the payload length's and the pad check's
    arithmetic starts from flip-flops rather than behind the beat's byte selection.

    A frame's last beat waits only while the record queue (`records` deep) has no room for it
    (behind a record about to be queued: for two).
    """

    def __init__(self, width: int = 16, records: int = 4):
        self.width, self.records = width, records
        self.layout = TrailerLayout
        super().__init__({"i": In(packet_signature(width)), "o": Out(packet_signature(width)),
                          "trailer": Out(stream.Signature(self.layout))})

    def elaborate(self, platform):
        m = Module()
        width, beat = self.width, self.i.payload
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=self.layout.size, depth=self.records)

        take = self.i.valid & self.i.ready
        done = Signal()  # the cycle after a last beat: its record is queued
        m.d.sync += done.eq(take & beat.last)
        room = Mux(done, queue.level < self.records - 1, queue.w_rdy)
        passable = ~beat.last | room  # a last beat needs room for its record
        m.d.comb += [
            self.o.valid.eq(self.i.valid & passable),
            self.o.payload.eq(beat),
            self.i.ready.eq(self.o.ready & passable),
        ]

        # the stream as bytes: the two before this beat (registered; zero before a frame's first
        # beat: cleared by the last beat of the frame before), then this beat's
        prev = [Signal(8, name="prev_1"), Signal(8, name="prev_0")]  # older first
        prev_seq = [Signal(name="prev_seq_1"), Signal(name="prev_seq_0")]
        b = prev + [beat.data.word_select(i, 8) for i in range(width)]
        # seq[j] = (b[j] == 1) | (b[j - 1] + 1 == b[j]) & seq[j - 1]: a carry chain (generate,
        # propagate), resolved as a parallel prefix in log2(width + 1) steps rather than width
        seq = list(prev_seq)
        gen = [seq[1]] + [b[j] == 1 for j in range(2, width + 2)]
        pro = [Const(0, 1)] + [b[j - 1] + 1 == b[j] for j in range(2, width + 2)]
        span = 1
        while span < len(gen):
            gen = [g if k < span else g | (pro[k] & gen[k - span]) for k, g in enumerate(gen)]
            pro = [p if k < span else p & pro[k - span] for k, p in enumerate(pro)]
            span *= 2
        for j in range(2, width + 2):
            step = Signal(name=f"seq_{j - 2}")
            m.d.comb += step.eq(gen[j - 1])
            seq.append(step)
        with m.If(take & ~beat.last):  # full beat: keep its last two bytes
            m.d.sync += [prev[0].eq(b[width]), prev[1].eq(b[width + 1]),
                         prev_seq[0].eq(seq[width]), prev_seq[1].eq(seq[width + 1])]
        with m.Elif(take):
            m.d.sync += [p.eq(0) for p in prev + prev_seq]

        # the bytes kept, one beat at a time (`*_now`: with this beat's bytes)
        head_beats = -(-(4 * 15 + AFTER) // width)  # up to the last byte kept
        index = Signal(range(head_beats + 1))
        at = Mux(beat.first, 0, index)
        with m.If(take & (at < head_beats)):
            m.d.sync += index.eq(at + 1)
        head, head_now = Signal(8 * HEAD), Signal(8 * HEAD)
        after, after_now = Signal(8 * AFTER), Signal(8 * AFTER)
        ihl = Signal(4)
        ihl_now = Mux(at == 0, beat.data[:4], ihl)
        behind = at * width - 4 * ihl_now  # this beat's first byte, from the end of the header
        m.d.comb += [head_now.eq(head), after_now.eq(after)]
        for byte in range(HEAD):
            number, lane = divmod(byte, width)
            with m.If(at == number):
                m.d.comb += head_now.word_select(byte, 8).eq(beat.data.word_select(lane, 8))
        for byte in range(AFTER):
            for lane in range(byte % 4, width, 4):  # 4 x IHL + byte is `byte` modulo 4
                with m.If(behind == byte - lane):
                    m.d.comb += after_now.word_select(byte, 8).eq(beat.data.word_select(lane, 8))
        with m.If(take):
            m.d.sync += [head.eq(head_now), after.eq(after_now), ihl.eq(ihl_now)]

        # at the last beat (n bytes): next header is b[n + 1], pad length b[n], before it b[n - 1];
        # the record from the registers the cycle after
        length = Signal(16)
        pad_len, next_header, run = Signal(8), Signal(8), Signal()  # run: b[n - 1] ends a run and is b[n]
        with m.If(take):
            m.d.sync += length.eq(Mux(beat.first, 0, length) + beat.nbytes)
        with m.If(take & beat.last):
            with m.Switch(beat.nbytes):
                for n in range(1, width + 1):
                    with m.Case(n):
                        m.d.sync += [pad_len.eq(b[n]), next_header.eq(b[n + 1]),
                                     run.eq(seq[n - 1] & (b[n - 1] == b[n]))]
                with m.Default():  # an empty frame
                    m.d.sync += [pad_len.eq(0), next_header.eq(0), run.eq(0)]
        m.submodules.head_checksum = head_checksum = HeaderChecksum(width)
        m.d.comb += [head_checksum.beat.eq(beat), head_checksum.take.eq(take)]
        record = Signal(self.layout)
        m.d.comb += [
            record.length.eq(length), record.head.eq(head), record.after_header.eq(after),
            record.pad_len.eq(pad_len), record.next_header.eq(next_header),
            record.pad_ok.eq((length >= 2) & ((pad_len == 0) | run)),
            record.payload_len.eq(length - 2 - pad_len),
            record.head_checksum_ok.eq(head_checksum.ok),
            queue.w_data.eq(record),
            queue.w_en.eq(done),
            self.trailer.valid.eq(queue.r_rdy),
            self.trailer.payload.eq(queue.r_data),
            queue.r_en.eq(self.trailer.ready),
        ]
        return m
