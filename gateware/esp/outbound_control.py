"""Outbound decisions, one parsed frame at a time (RFC 4301 §5.1, RFC 4303 §3.3): what happens
to each frame from the plaintext side, and the ESP header fields of those to protect.

Per frame (the model's `Appliance._from_plain` and `esp.encapsulate`, in the same order):
malformed -> drop; IPv6 and other EtherTypes -> the build's IPv6 rule / bypass; IPv4 -> SPD
lookup: bypass, discard, or protect with the policy's SA: an SA that is missing or not
outbound is `no-sa`, a dead one `sa-expired`; otherwise the next sequence number (the last
one an SA may send marks it dead, §3.3.3: it never wraps), packet and byte lifetimes (soft
raises an event once, hard kills the SA), and the MTU check of the protected packet.

The SA entries are read from the SA table (`sa_table.py`); the dynamic state (sequence number,
counters, flags) of outbound SAs lives here, started afresh when the table renews an entry: the
sequence number from the new SA's starting number (replay-oseq, docs/config.md), so the first
packet carries it + 1; a starting number that leaves no next one (the last number or beyond,
which the driver refuses) starts the SA dead, so nothing ever wraps (§3.3.3). One
frame's read, decision and write-back finish before the next frame's read, so back-to-back
packets on one SA never race; between frames the direction is `quiet` and the table may write.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import Action, Df, Dir, Event, Mode

from ..crypto.gcm import GCMCommand
from ..packet import FRAME_TAG
from .counts import Counts
from .ipv4_header import end_around_carry, word_sum
from .parser import Parsed
from .policy_table import key_layout, result_layout
from .sa_fields import gcm_command, reached, report_events, serve_snapshots
from .sa_table import client_signature, renew
from .splitter import DROP, FORWARD, SplitAction
from .splitter import SPLIT as ENCAP

EncapState = data.StructLayout({"seq": 64, "packets": 64, "bytes": 64, "soft_expired": 1, "dead": 1})


def job_layout(n_sa: int) -> data.StructLayout:
    """What the encapsulator does with one stored frame; for ENCAP, every header field."""
    return data.StructLayout({
        "tag": FRAME_TAG,  # the stored frame this job is for
        "action": SplitAction, "l2_len": 5, "ihl": 4, "length": 16,
        "payload_start": 16, "payload_end": 16,  # the bytes to encrypt, as frame offsets
        "pad": 2, "next_header": 8,
        "tunnel": 1, "natt": 1,
        "too_big": 1,  # dropped too-big (the ICMP block answers it: icmp_too_big.py)
        "outer": 8 * 20,  # tunnel: the outer IPv4 header, wire order (byte 0 lowest)
        "udp": 8 * 8,  # NAT-T: the UDP header (RFC 3948 §2.1, checksum 0)
        "esp": 8 * 16,  # SPI, sequence number, explicit IV
        "ip_length": 16, "ip_proto": 8,  # transport: the new total length and protocol
        "gcm": GCMCommand,
    })


def seq_max(esn):
    """The last sequence number of an SA (RFC 4303 §3.3.3; 64-bit with ESN, RFC 4304)."""
    return Mux(esn, Const(2**64 - 1, 64), Const(2**32 - 1, 64))


def wire(*fields):
    """Big-endian fields `(value, bytes)`, in wire order, as a little-lane byte vector (byte 0 lowest)."""
    lanes = []
    for value, n in fields:
        value = Const(value, 8 * n) if isinstance(value, int) else Value.cast(value)
        lanes += [value[8 * i : 8 * (i + 1)] for i in reversed(range(n))]
    return Cat(*lanes)


class OutboundControl(wiring.Component):
    def __init__(self, sa: data.StructLayout, counters: data.StructLayout, event: data.StructLayout,
                 n_sa: int, n_policy: int, *, default_policy: str = "discard", ipv6: str = "discard",
                 mtu: int = 9000):
        self.n_sa = n_sa
        self.mtu = mtu
        self.default_bypass, self.ipv6_bypass = default_policy == "bypass", ipv6 == "bypass"
        super().__init__({
            "parsed": In(stream.Signature(Parsed)),
            "table": Out(client_signature(sa, n_sa, reads=("read",))),
            "lookup": Out(stream.Signature(key_layout(n_sa))),
            "policy": In(stream.Signature(result_layout(n_policy, n_sa))),
            "job": Out(stream.Signature(job_layout(n_sa))),
            "counts": Out(Counts),
            "events": Out(stream.Signature(event)),
            "counter_request": In(stream.Signature(range(n_sa))),
            "counter_response": Out(stream.Signature(counters)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.dynamic = dynamic = Memory(shape=EncapState, depth=self.n_sa, init=[])
        static_r = self.table.read
        dyn_w, dyn_r = dynamic.write_port(), dynamic.read_port()  # dyn_r also serves the counter snapshots
        # two jobs (in flip-flops: a 16-deep distributed RAM would cost ~1.5 LUT sites per bit) keep the
        # decisions a frame ahead of the encapsulator
        m.submodules.jobs = jobs = fifo.SyncFIFOBuffered(width=job_layout(self.n_sa).size, depth=2)

        rec = Signal(Parsed)
        job = Signal(job_layout(self.n_sa))
        sa_index = Signal(range(self.n_sa))
        entry, state = static_r.data.sa, dyn_r.data  # on the read ports in LOAD
        m.d.comb += [static_r.addr.eq(sa_index), dyn_w.addr.eq(sa_index), jobs.w_data.eq(job)]
        renewed = self.table.renewed
        m.d.comb += [self.job.valid.eq(jobs.r_rdy), self.job.payload.eq(jobs.r_data), jobs.r_en.eq(self.job.ready)]
        c = self.counts

        # a decided frame's job enters the queue the cycle after (its write enable, which reaches every
        # bit of the queue, from a flip-flop); the job's fields hold, as IDLE takes no frame in that cycle
        push, decided, too_big = Signal(), Signal(SplitAction), Signal()
        m.d.sync += push.eq(0)
        m.d.comb += [jobs.w_en.eq(push), job.action.eq(decided), job.too_big.eq(too_big)]

        def finish(action, counter, *, big=False):
            m.d.comb += getattr(c, counter).eq(1)
            m.d.sync += [push.eq(1), decided.eq(action), too_big.eq(big)]

        def transport(sa):
            return sa.flags.mode == Mode.TRANSPORT

        # the protected packet (RFC 4303 §2): the payload padded to 4 bytes with the trailer (§2.4;
        # 4 * ihl is a multiple of 4, so the pad is the total length's), the ESP header and ICV, NAT-T's
        # UDP header (RFC 3948) and in tunnel mode the outer IPv4 header
        pad = Signal(2)
        m.d.comb += pad.eq(-(rec.total_length + 2))
        # the padded length and transport mode's payload, the frame's a cycle after it is taken (LOAD is later)
        padded, inner_len = Signal(17), Signal(16)
        m.d.sync += [padded.eq(rec.total_length + 2 + pad), inner_len.eq(rec.total_length - 4 * rec.ihl)]

        def ip_length(sa):
            return padded + (Mux(transport(sa), 16, 16 + 20) + sa.flags.icv_len + Mux(sa.flags.natt, 8, 0))

        def protocol(sa):
            return Mux(sa.flags.natt, Const(17, 8), Const(50, 8))

        def outer_words(sa, ip_len, seq):
            """The outer IPv4 header's 16-bit words (RFC 791 §3.1), its checksum 0."""
            df = Mux(sa.flags.df == Df.COPY, rec.df, sa.flags.df == Df.SET)
            return [Cat(rec.tos, Const(0x45, 8)), ip_len, seq, Cat(Const(0, 14), df, Const(0, 1)),
                    Cat(protocol(sa), sa.flags.ttl), Const(0, 16), sa.src[16:], sa.src[:16], sa.dst[16:], sa.dst[:16]]

        # what the decision needs, in three register stages so that no carry chain follows another's:
        # LOAD keeps the SA, the next sequence number and counts, the IP length and the sum of the outer
        # header's words but these two; SUM the whole sum and the limits each count reaches; DECIDE folds
        sa, valid = Signal.like(entry), Signal()
        seq, packets, nbytes = Signal(64), Signal(64), Signal(64)
        soft_expired, dead = Signal(), Signal()
        ip_len, fixed_sum = Signal(18), Signal(20)
        load = [
            sa.eq(entry), valid.eq(static_r.data.valid),
            seq.eq(state.seq + 1), packets.eq(state.packets + 1),
            nbytes.eq(state.bytes + Mux(transport(entry), inner_len, rec.total_length)),
            soft_expired.eq(state.soft_expired), dead.eq(state.dead),
            ip_len.eq(ip_length(entry)), fixed_sum.eq(word_sum(outer_words(entry, 0, 0))),
        ]
        outer_total, soft, hard, exhausted = Signal(21), Signal(), Signal(), Signal()
        summed = [
            outer_total.eq(fixed_sum + ip_len[:16] + seq[:16]),
            soft.eq(~soft_expired & (reached(packets, sa.soft_packets) | reached(nbytes, sa.soft_bytes))),
            hard.eq(reached(packets, sa.hard_packets) | reached(nbytes, sa.hard_bytes)),
            exhausted.eq(seq == seq_max(sa.flags.esn)),
        ]
        # what a decision writes back (in DECIDE) unless the table renews an entry (while quiet)
        m.d.comb += [dyn_w.data.seq.eq(seq), dyn_w.data.packets.eq(packets), dyn_w.data.bytes.eq(nbytes),
                     dyn_w.data.soft_expired.eq(soft_expired | soft), dyn_w.data.dead.eq(exhausted | hard)]
        renew(m, renewed, dyn_w, Dir.OUT, seq=renewed.seq, dead=renewed.seq >= seq_max(renewed.esn))
        outer_sum = ~end_around_carry(outer_total)
        esp_len = Signal(17)
        m.d.comb += esp_len.eq(ip_len - Mux(transport(sa), 4 * rec.ihl, 20))
        sealed = padded - Mux(transport(sa), 4 * rec.ihl, 0)
        outer = outer_words(sa, ip_len[:16], seq[:16])
        m.d.comb += [
            job.tag.eq(rec.tag), job.l2_len.eq(rec.l2_len), job.ihl.eq(rec.ihl), job.length.eq(rec.length),
            job.payload_start.eq(rec.l2_len + Mux(transport(sa), 4 * rec.ihl, 0)),
            job.payload_end.eq(rec.l2_len + rec.total_length),
            job.pad.eq(pad), job.next_header.eq(Mux(transport(sa), rec.proto, 4)),
            job.tunnel.eq(~transport(sa)), job.natt.eq(sa.flags.natt),
            job.outer.eq(wire(*[(w, 2) for w in outer[:5]], (outer_sum, 2), *[(w, 2) for w in outer[6:]])),
            job.udp.eq(wire((sa.natt_ports.lo, 2), (sa.natt_ports.hi, 2), (esp_len[:16], 2), (0, 2))),
            job.esp.eq(wire((sa.spi, 4), (seq[:32], 4), (seq, 8))),
            job.ip_length.eq(ip_len[:16]), job.ip_proto.eq(protocol(sa)),
            *gcm_command(job.gcm, sa, iv=seq, seq_low=seq[:32], seq_high=seq[32:], length=sealed[:16], decrypt=0),
        ]

        # -- the decision, one frame at a time ------------------------------------------------
        pending = Signal(3)  # events still to report: seq-exhausted, soft, hard (the model's order)
        lk = self.lookup.payload
        m.d.comb += [lk.dir.eq(Dir.OUT), lk.src.eq(rec.src), lk.dst.eq(rec.dst), lk.proto.eq(rec.proto),
                     lk.has_ports.eq(rec.has_ports), lk.sport.eq(rec.sport), lk.dport.eq(rec.dport)]
        with m.FSM() as fsm:
            with m.State("IDLE"):
                m.d.comb += self.table.quiet.eq(1)
                with m.If(self.parsed.valid & jobs.w_rdy & ~push & ~self.table.hold):
                    m.d.comb += [self.parsed.ready.eq(1), c.rx_plain.eq(1)]
                    m.d.sync += rec.eq(self.parsed.payload)
                    m.next = "CLASSIFY"
            with m.State("CLASSIFY"):
                with m.If(rec.malformed):
                    finish(DROP, "drop_malformed")
                    m.next = "IDLE"
                with m.Elif(rec.ipv6 & Const(not self.ipv6_bypass)):
                    finish(DROP, "drop_policy")
                    m.next = "IDLE"
                with m.Elif(~rec.ipv4):
                    finish(FORWARD, "tx_cipher")
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.lookup.valid.eq(1)
                    with m.If(self.lookup.ready):
                        m.next = "LOOKUP"
            with m.State("LOOKUP"):
                r = self.policy.payload
                m.d.comb += self.policy.ready.eq(1)
                with m.If(self.policy.valid):
                    action = Mux(r.hit, r.action, Mux(self.default_bypass, Action.BYPASS, Action.DISCARD))
                    m.d.sync += sa_index.eq(r.sa_index)
                    with m.If(action == Action.PROTECT):
                        m.next = "FETCH"
                    with m.Elif(action == Action.BYPASS):
                        finish(FORWARD, "tx_cipher")
                        m.next = "IDLE"
                    with m.Else():
                        finish(DROP, "drop_policy")
                        m.next = "IDLE"
            with m.State("FETCH"):  # the table's read ports register sa_index (once the table's is ours)
                m.d.comb += static_r.en.eq(1)
                with m.If(static_r.granted):
                    m.next = "LOAD"
            with m.State("LOAD"):  # the SA and its state on the read ports
                m.d.sync += load
                m.next = "SUM"
            with m.State("SUM"):
                m.d.sync += summed
                m.next = "DECIDE"
            with m.State("DECIDE"):
                with m.If(~valid | (sa.flags.dir != Dir.OUT)):
                    finish(DROP, "drop_no_sa")
                    m.next = "IDLE"
                with m.Elif(dead):
                    finish(DROP, "drop_sa_expired")
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += dyn_w.en.eq(1)
                    m.d.sync += pending.eq(Cat(exhausted, soft, hard))
                    with m.If(ip_len > self.mtu):
                        finish(DROP, "drop_too_big", big=True)
                    with m.Else():
                        finish(ENCAP, "tx_cipher")
                    m.next = "EVENTS"
            with m.State("EVENTS"):
                report_events(m, self.events, pending,
                              (Event.SEQ_EXHAUSTED, Event.SOFT_LIFETIME, Event.HARD_LIFETIME), sa_index)
                with m.If(pending == 0):
                    m.next = "IDLE"
        # the frame's SA state is read in FETCH (first: it waits for no one) and kept in LOAD; in any
        # other cycle dyn_r may read a counter snapshot
        serve_snapshots(m, self.counter_request, self.counter_response, dyn_r,
                        {name: getattr(state, name) for name in ("packets", "bytes", "seq")},
                        [(fsm.ongoing("FETCH"), sa_index)])
        return m
