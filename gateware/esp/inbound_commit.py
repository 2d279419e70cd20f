"""Inbound commit (RFC 4303 §3.4), one classified frame at a time in frame order, with the SA's
state as it is then (a copy that raced through the pipeline is caught here): SA dead, ESP
length, replay window, ICV, then - only now - the window update (§3.4.3), padding (§2.4),
dummy packet (§2.6), inner header (tunnel), lifetimes (events), and the inbound selector check
of the SA's policies (RFC 4301 §5.2 step 4). Every frame is counted here, once; a decrypted
one is committed to the packet buffer or discarded (docs/invariants.md §1).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import WritePort
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import Dir, Event, Mode

from .counts import NAMES
from .header_patch import PatchLayout
from .inbound_classify import Verdict, counter, verdict_layout
from .ipv4_header import PORTED, IPv4Decoder, big_endian
from .packet_buffer import commit_layout
from .policy_table import key_layout, result_layout
from .replay import ReplayWindow
from .sa_fields import reached, report_events, shared_read_signature
from .sa_table import read_signature
from .trailer import TrailerLayout

PROTO_IPIP, NEXT_HEADER_NONE = 4, 59


class InboundCommit(wiring.Component):
    def __init__(self, sa: data.StructLayout, state: data.StructLayout, thresholds: data.StructLayout,
                 event: data.StructLayout, n_sa: int, n_policy: int, *, window: int):
        self.window = window
        index_bits = (n_sa - 1).bit_length()
        super().__init__({
            "verdict": In(stream.Signature(verdict_layout(n_sa))),
            "counted": Out(len(NAMES)),  # one pulse per frame, on its counter's bit
            "sa": In(read_signature(sa, n_sa)),
            "state": In(shared_read_signature(n_sa, state)),  # shared with classify and the snapshots
            "state_write": In(WritePort.Signature(addr_width=index_bits, shape=state)),
            "icv": In(stream.Signature(data.StructLayout({"ok": 1}))),
            "trailer": In(stream.Signature(TrailerLayout)),
            "commit": Out(stream.Signature(commit_layout(PatchLayout))),
            "admit_lookup": Out(stream.Signature(key_layout(n_sa))),
            "admit": In(stream.Signature(result_layout(n_policy, n_sa))),
            "events": Out(stream.Signature(event)),
            "thresholds": In(thresholds),  # the register map's event_threshold: 0 = no event
        })

    def elaborate(self, platform):
        m = Module()
        job = self.verdict.payload
        m.d.comb += [self.sa.addr.eq(job.sa_index), self.state.addr.eq(job.sa_index)]
        # the SA and its dynamic state, read once the frame is next (LOAD), the state then changed by
        # the frame's verdict and written back (VERDICT): the shared read ports are free from LOAD on
        sa, state = Signal.like(self.sa.data.sa), Signal.like(self.state.data)
        m.submodules.window = window = ReplayWindow(self.window)
        m.d.comb += [window.state.eq(state.window), window.size.eq(sa.replay_window.size),
                     window.seq_low.eq(job.seq_low), window.esn.eq(sa.flags.esn)]
        # the window's check and update registered (INFER), so that its arithmetic has a cycle of its own
        fresh, stale, moved = Signal(), Signal(), Signal.like(window.next_state)
        m.d.sync += [fresh.eq(window.fresh), stale.eq(window.seq[32:] != job.seq_high), moved.eq(window.next_state)]
        t = self.trailer.payload
        m.submodules.inner = inner = IPv4Decoder(4)
        m.d.comb += [inner.header.eq(t.head), inner.l4.eq(t.after_header), inner.available.eq(t.payload_len),
                     inner.checksum_ok.eq(t.head_checksum_ok)]
        tunnel = sa.flags.mode != Mode.TRANSPORT
        # the counts with this frame, registered (from CHECK on), compared with the lifetimes in ADMIT
        packets, nbytes = Signal(64), Signal(64)
        m.d.sync += [packets.eq(state.packets + 1), nbytes.eq(state.bytes + t.payload_len)]
        soft = ~state.soft_expired & (reached(packets, sa.soft_packets) | reached(nbytes, sa.soft_bytes))
        hard = reached(packets, sa.hard_packets) | reached(nbytes, sa.hard_bytes)

        c, ci = self.commit, self.commit.payload
        commit_ok = Signal()  # the verdict of a decrypted frame, and what to keep of it
        m.d.comb += [ci.ok.eq(commit_ok), ci.meta.l2_len.eq(job.l2_len), ci.meta.enable.eq(~tunnel),
                     ci.meta.total_length.eq(4 * job.ihl + t.payload_len), ci.meta.proto.eq(t.next_header),
                     ci.length.eq(job.l2_len + Mux(tunnel, inner.fields.total_length, 4 * job.ihl + t.payload_len))]
        al = self.admit_lookup.payload
        ports = big_endian(t.head, 0, 4)
        transport_ports = Cat(*[t.next_header == p for p in PORTED]).any() & (t.payload_len >= 4)
        m.d.comb += [
            al.dir.eq(Dir.IN), al.sa_index.eq(job.sa_index),
            al.src.eq(Mux(tunnel, inner.fields.src, job.src)), al.dst.eq(Mux(tunnel, inner.fields.dst, job.dst)),
            al.proto.eq(Mux(tunnel, inner.fields.proto, t.next_header)),
            al.has_ports.eq(Mux(tunnel, inner.fields.has_ports, transport_ports)),
            al.sport.eq(Mux(tunnel, inner.fields.sport, ports[16:])),
            al.dport.eq(Mux(tunnel, inner.fields.dport, ports[:16])),
        ]
        pending = Signal(4)  # events still to report: soft, hard (the model's order), auth-fail, replay thresholds
        limits = self.thresholds
        drop = Signal(range(len(NAMES)))
        event_index = Signal.like(job.sa_index)

        def count(index):
            return self.counted.eq(Const(1, len(NAMES)) << index)

        with m.FSM(name="commit"):
            with m.State("IDLE"):
                with m.If(self.verdict.valid & (job.kind == Verdict.COUNT)):
                    m.d.comb += [c.valid.eq(job.forward), commit_ok.eq(1), ci.length.eq(0xFFFF),
                                 ci.meta.enable.eq(0)]
                    with m.If(~job.forward | c.ready):
                        m.d.comb += [self.verdict.ready.eq(1), count(job.counter)]
                with m.Elif(self.verdict.valid):
                    m.d.comb += [self.sa.en.eq(1), self.state.en.eq(1)]
                    with m.If(self.sa.granted & self.state.granted):
                        m.next = "LOAD"
            with m.State("LOAD"):  # the SA and its state on the shared read ports
                m.d.sync += [sa.eq(self.sa.data.sa), state.eq(self.state.data)]
                m.next = "INFER"
            with m.State("INFER"):
                m.next = "CHECK"
            with m.State("CHECK"):
                m.d.sync += [pending.eq(0), event_index.eq(job.sa_index)]
                ready = ~job.decrypt | (self.trailer.valid & self.icv.valid)
                checked = [
                    (state.dead, "drop_sa_expired"),
                    (job.bad_length, "drop_malformed"),
                    (~fresh, "drop_replay"),
                    # the ICV as the model checks it: with the high half inferred from this state
                    # (RFC 4303 A2.2); decrypted with another (inferred while frames were in
                    # flight), the model's AAD differs, so its ICV fails too
                    (~self.icv.payload.ok | stale, "drop_auth_fail"),
                ]
                with m.If(ready):
                    m.next = "VERDICT"
                    for k, (failed, name) in enumerate(checked):
                        with (m.If if k == 0 else m.Elif)(failed):
                            m.d.sync += drop.eq(counter(name))
                            for field, bit in (("replay", 3), ("auth_fail", 2)):  # counted, maybe an event
                                if name == f"drop_{field}":
                                    count_, limit = getattr(state, field) + 1, getattr(limits, field)
                                    m.d.sync += [getattr(state, field).eq(count_),
                                                 pending[bit].eq((limit != 0) & (count_ == limit))]
                    with m.Else():  # the ICV verified: the window moves (RFC 4303 §3.4.3)
                        m.d.sync += state.window.eq(moved)
                        with m.If(~t.pad_ok):
                            m.d.sync += drop.eq(counter("drop_bad_pad"))
                        with m.Elif(t.next_header == NEXT_HEADER_NONE):
                            m.d.sync += drop.eq(counter("drop_dummy"))
                        with m.Elif(tunnel & ((t.next_header != PROTO_IPIP) | ~inner.fields.ok)):
                            m.d.sync += drop.eq(counter("drop_malformed"))
                        with m.Else():
                            m.d.sync += drop.eq(0)
                            m.next = "ADMIT"
            with m.State("ADMIT"):  # RFC 4301 §5.2 step 4: a policy of this SA covers the inner packet
                m.d.comb += self.admit_lookup.valid.eq(1)
                with m.If(self.admit_lookup.ready):
                    m.d.sync += [state.packets.eq(packets), state.bytes.eq(nbytes),
                                 state.soft_expired.eq(state.soft_expired | soft),
                                 state.dead.eq(hard), pending.eq(Cat(soft, hard))]
                    m.next = "ADMITTED"
            with m.State("ADMITTED"):
                m.d.comb += self.admit.ready.eq(1)
                with m.If(self.admit.valid):
                    m.d.sync += drop.eq(Mux(self.admit.payload.admitted, 0, counter("drop_policy")))
                    m.next = "VERDICT"
            with m.State("VERDICT"):  # write the SA back, commit or discard the frame, count
                m.d.comb += [c.valid.eq(job.decrypt), commit_ok.eq(drop == 0)]
                with m.If(~job.decrypt | c.ready):
                    w = self.state_write
                    m.d.comb += [w.addr.eq(job.sa_index), w.data.eq(state), w.en.eq(1),
                                 self.verdict.ready.eq(1),
                                 self.trailer.ready.eq(job.decrypt), self.icv.ready.eq(job.decrypt),
                                 count(Mux(drop == 0, counter("tx_plain"), drop))]
                    m.next = "EVENTS"
            with m.State("EVENTS"):
                report_events(m, self.events, pending, (Event.SOFT_LIFETIME, Event.HARD_LIFETIME,
                                                        Event.AUTH_FAIL_THRESHOLD, Event.REPLAY_THRESHOLD),
                              event_index)
                with m.If(pending == 0):
                    m.next = "IDLE"
        return m
