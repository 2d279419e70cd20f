"""Inbound decisions (RFC 4301 §5.2, RFC 4303 §3.4, RFC 3948 §2-3): what happens to each frame
from the ciphertext side, and the verdict on each decrypted one.

*Classify*, per parsed frame, as the model's `Appliance._from_cipher`: malformed -> drop;
IPv6 / other EtherTypes -> the build's rule / forward; ESP (protocol 50, or UDP to 4500 that
is neither a keepalive (absorbed) nor IKE behind a non-ESP marker (punted, as is UDP 500));
other IPv4 -> the inbound SPD (protect means it should have come in ESP: drop). An ESP
frame's SA is the table entry `SPI mod n_sa` (the driver places inbound SAs there) if that
entry is an inbound SA with this SPI, else `no-sa`; an SA whose NAT-T use differs: `policy`.
It is decrypted unless it is already known to fail (SA dead, length wrong, seen before).

*Commit*, in frame order, with the SA state as it is then (a copy that raced through the
pipeline is caught here): SA dead, ESP length, replay window, ICV, then - only now -
the window update (§3.4.3), padding (§2.4), dummy packet (§2.6), inner header (tunnel),
lifetimes (events), and the inbound selector check of the SA's policies (§5.2 step 4).
Every frame is counted here, once. The SA table is written only when no frame is in flight,
so a frame sees one version of its SA from classify to commit.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .counts import NAMES, Counts
from .decapsulator import DecapJob
from .header_patch import PatchLayout
from .ipv4_header import PORTED, IPv4Decoder, big_endian
from .packet_buffer import commit_layout
from .parser import Parsed
from .policy_table import key_layout, result_layout
from .replay import ReplayWindow, state_layout
from .sa_fields import (
    EVENT_AUTH_FAIL,
    EVENT_HARD,
    EVENT_REPLAY,
    EVENT_SOFT,
    gcm_command,
    reached,
    report_events,
    serve_snapshots,
    take_sa_write,
)
from .splitter import DROP, FORWARD, SPLIT
from .trailer import trailer_layout

DIR_IN, MODE_TRANSPORT, ACTION_BYPASS = 0, 1, 1
IKE_PORT, NAT_T_PORT, PROTO_ESP, PROTO_UDP, PROTO_IPIP, NEXT_HEADER_NONE = 500, 4500, 50, 17, 4, 59
KIND_COUNT, KIND_ESP = 0, 1  # commit jobs: count one counter, or decide an ESP frame


def counter(name: str) -> int:
    return NAMES.index(name)


class InboundControl(wiring.Component):
    def __init__(self, sa_write: data.StructLayout, counters: data.StructLayout, event: data.StructLayout,
                 thresholds: data.StructLayout, n_sa: int, n_policy: int, *, window: int,
                 default_policy: str = "discard", ipv6: str = "discard", in_flight: int = 8):
        if n_sa & (n_sa - 1):
            raise ValueError(f"n_sa: {n_sa} is not a power of two (inbound SAs are found by SPI mod n_sa)")
        self.n_sa, self.entry, self.window = n_sa, sa_write.members["entry"], window
        self.default_bypass, self.ipv6_bypass, self.in_flight = default_policy == "bypass", ipv6 == "bypass", in_flight
        policy = stream.Signature(result_layout(n_policy, n_sa))
        super().__init__({
            "parsed": In(stream.Signature(Parsed)),
            "sa_write": In(stream.Signature(sa_write)),
            "lookup": Out(stream.Signature(key_layout(n_sa))), "policy": In(policy),  # cleartext SPD
            "admit_lookup": Out(stream.Signature(key_layout(n_sa))), "admit": In(policy),  # selector check
            "job": Out(stream.Signature(DecapJob)),
            "icv": In(stream.Signature(data.StructLayout({"ok": 1}))),
            "trailer": In(stream.Signature(trailer_layout(64))),
            "commit": Out(stream.Signature(commit_layout(PatchLayout))),
            "counts": Out(Counts),
            "events": Out(stream.Signature(event)),
            "counter_request": In(stream.Signature(range(n_sa))),
            "counter_response": Out(stream.Signature(counters)),
            "thresholds": In(thresholds),  # the register map's event_threshold: 0 = no event
        })

    def elaborate(self, platform):
        m = Module()
        n_sa, index_bits = self.n_sa, (self.n_sa - 1).bit_length()
        entry_layout = data.StructLayout({"valid": 1, "sa": self.entry})
        dyn_layout = data.StructLayout({"window": state_layout(self.window), "packets": 64, "bytes": 64,
                                        "auth_fail": 32, "replay": 32, "soft_expired": 1, "dead": 1})
        m.submodules.static = static = Memory(shape=entry_layout, depth=n_sa, init=[])
        m.submodules.dynamic = dynamic = Memory(shape=dyn_layout, depth=n_sa, init=[])
        static_w, static_c, static_v = static.write_port(), static.read_port(), static.read_port()
        dyn_w, dyn_c, dyn_v, dyn_snap = dynamic.write_port(), dynamic.read_port(), dynamic.read_port(), \
            dynamic.read_port()
        job_layout = data.StructLayout({
            "kind": 1, "counter": range(len(NAMES)), "forward": 1, "decrypt": 1, "sa_index": range(n_sa),
            "seq_low": 32, "seq_high": 32, "bad_length": 1, "l2_len": 5, "ihl": 4, "src": 32, "dst": 32})
        m.submodules.jobs = jobs = fifo.SyncFIFOBuffered(width=job_layout.size, depth=self.in_flight)
        in_flight = Signal(range(self.in_flight + 2))  # frames classified and not yet committed
        with m.If(jobs.w_en & ~jobs.r_en):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(jobs.r_en & ~jobs.w_en):
            m.d.sync += in_flight.eq(in_flight - 1)
        received, counted = Signal(), Signal(len(NAMES))  # a frame taken by classify; one committed
        m.d.comb += self.counts.as_value().eq(counted | (received << counter("rx_cipher")))

        serve_snapshots(m, self.counter_request, self.counter_response, dyn_snap,
                        {**{n: getattr(dyn_snap.data, n) for n in ("packets", "bytes", "auth_fail", "replay")},
                         "seq": dyn_snap.data.window.top})

        # -- classify ------------------------------------------------------------------------------
        rec = Signal(Parsed)
        cj = Signal(job_layout)  # the commit job being built
        dj = self.job.payload  # the decapsulator's job
        m.d.comb += [jobs.w_data.eq(cj), dj.split.action.eq(DROP)]
        ip_len = 4 * rec.ihl
        udp_payload = Signal(17)
        m.d.comb += udp_payload.eq(rec.total_length - ip_len - 8)
        natt = Signal()  # ESP in UDP (RFC 3948 §2.1)
        esp_at = Mux(natt, ip_len + 8, ip_len)  # ESP's offset in the IP packet
        esp_l4 = Mux(natt, rec.l4[64:], rec.l4[:128])  # SPI, seq, IV
        spi, seq_low, iv = big_endian(esp_l4, 0, 4), big_endian(esp_l4, 4, 4), big_endian(esp_l4, 8, 8)
        index = Signal(index_bits)
        m.d.comb += [static_c.addr.eq(index), dyn_c.addr.eq(index)]
        sa, state = static_c.data.sa, dyn_c.data
        m.submodules.early = early = ReplayWindow(self.window)  # the window before the pipeline's updates
        m.d.comb += [early.state.eq(state.window), early.size.eq(sa.replay_window.size), early.seq_low.eq(seq_low),
                     early.esn.eq(sa.flags.esn)]
        esp_len = Signal(17)
        m.d.comb += esp_len.eq(rec.total_length - esp_at)
        bad_length = (esp_len < 18 + sa.flags.icv_len) | ((esp_len - sa.flags.icv_len)[:2] != 0)
        gcm = dj.gcm
        m.d.comb += [
            dj.tag.eq(rec.tag), dj.split.tag.eq(0),
            dj.split.a.eq(rec.l2_len + Mux(sa.flags.mode == MODE_TRANSPORT, ip_len, 0)),
            dj.split.b.eq(rec.l2_len + esp_at + 16),
            dj.split.c.eq(rec.l2_len + rec.total_length - sa.flags.icv_len),
            dj.split.d.eq(rec.l2_len + rec.total_length),
            dj.split.cut.eq(1),
            *gcm_command(gcm, sa, iv=iv, seq_low=seq_low, seq_high=early.seq[32:],
                         length=esp_len - 16 - sa.flags.icv_len, decrypt=1),
            cj.sa_index.eq(index), cj.seq_low.eq(seq_low), cj.seq_high.eq(early.seq[32:]), cj.bad_length.eq(bad_length),
            cj.l2_len.eq(rec.l2_len), cj.ihl.eq(rec.ihl), cj.src.eq(rec.src), cj.dst.eq(rec.dst),
        ]
        lk = self.lookup.payload
        m.d.comb += [lk.dir.eq(DIR_IN), lk.src.eq(rec.src), lk.dst.eq(rec.dst), lk.proto.eq(rec.proto),
                     lk.has_ports.eq(rec.has_ports), lk.sport.eq(rec.sport), lk.dport.eq(rec.dport)]

        def verdict(name, action=None):
            """Count `name` at commit; the frame: dropped (no action), forwarded or punted."""
            statements = [cj.kind.eq(KIND_COUNT), cj.counter.eq(counter(name)), jobs.w_en.eq(1), self.job.valid.eq(1)]
            if action == "forward":
                statements += [dj.split.action.eq(FORWARD), cj.forward.eq(1)]
            elif action == "punt":
                statements += [dj.split.action.eq(FORWARD), dj.split.tag.eq(1)]
            return statements

        can_job = jobs.w_rdy & self.job.ready
        with m.FSM(name="classify"):
            with m.State("IDLE"):
                with m.If(self.sa_write.valid):  # drain, then write the entry whole
                    with m.If(in_flight == 0):
                        take_sa_write(m, self.sa_write, static_w, static_c, dyn_w)
                with m.Elif(self.parsed.valid):
                    m.d.comb += [self.parsed.ready.eq(1), received.eq(1)]
                    m.d.sync += rec.eq(self.parsed.payload)
                    m.next = "CLASSIFY"
            with m.State("CLASSIFY"):
                is_udp = rec.ipv4 & (rec.proto == PROTO_UDP) & ~rec.fragment
                with m.If(~can_job):
                    pass
                with m.Elif(rec.malformed):
                    m.d.comb += verdict("drop_malformed")
                    m.next = "IDLE"
                with m.Elif(rec.ipv6):
                    m.d.comb += verdict("tx_plain", "forward") if self.ipv6_bypass else verdict("drop_policy")
                    m.next = "IDLE"
                with m.Elif(~rec.ipv4):
                    m.d.comb += verdict("tx_plain", "forward")
                    m.next = "IDLE"
                with m.Elif(rec.proto == PROTO_ESP):
                    m.d.sync += natt.eq(0)
                    m.next = "ESP"
                with m.Elif(is_udp & ((rec.total_length < ip_len + 8) | (rec.udp_length != rec.total_length - ip_len))):
                    m.d.comb += verdict("drop_malformed")  # the UDP length must fill the IP packet
                    m.next = "IDLE"
                with m.Elif(is_udp & ((rec.sport == IKE_PORT) | (rec.dport == IKE_PORT))):
                    m.d.comb += verdict("punted", "punt")
                    m.next = "IDLE"
                with m.Elif(is_udp & (rec.dport == NAT_T_PORT)):
                    first = rec.l4[64:96]
                    with m.If((udp_payload == 1) & (first[:8] == 0xFF)):  # NAT keepalive (RFC 3948 §2.3)
                        m.d.comb += verdict("drop_keepalive")
                        m.next = "IDLE"
                    with m.Elif((udp_payload >= 4) & (first == 0)):  # non-ESP marker: IKE (§2.2)
                        m.d.comb += verdict("punted", "punt")
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += natt.eq(1)
                        m.next = "ESP"
                with m.Else():
                    m.d.comb += self.lookup.valid.eq(1)
                    with m.If(self.lookup.ready):
                        m.next = "SPD"
            with m.State("SPD"):
                r = self.policy.payload
                action = Mux(r.hit, r.action, Mux(self.default_bypass, ACTION_BYPASS, 0))
                m.d.comb += self.policy.ready.eq(can_job)
                with m.If(self.policy.valid & can_job):
                    with m.If(action == ACTION_BYPASS):
                        m.d.comb += verdict("tx_plain", "forward")
                    with m.Else():  # discard, or protect: cleartext where ESP is due
                        m.d.comb += verdict("drop_policy")
                    m.next = "IDLE"
            with m.State("ESP"):
                with m.If(can_job & (rec.fragment | (rec.total_length < esp_at + 8))):
                    m.d.comb += verdict("drop_malformed")  # no reassembly
                    m.next = "IDLE"
                with m.Elif(can_job):
                    m.d.sync += index.eq(spi[:index_bits])
                    m.next = "FETCH"
            with m.State("FETCH"):  # the table's read ports register the index
                m.next = "SA"
            with m.State("SA"):
                with m.If(can_job):
                    with m.If(~static_c.data.valid | (sa.flags.dir != DIR_IN) | (sa.spi != spi)):
                        m.d.comb += verdict("drop_no_sa")
                    with m.Elif(sa.flags.natt != natt):
                        m.d.comb += verdict("drop_policy")  # arrived with an encapsulation the SA does not use
                    with m.Else():
                        decrypt = ~state.dead & ~bad_length & early.fresh
                        m.d.comb += [cj.kind.eq(KIND_ESP), cj.decrypt.eq(decrypt), jobs.w_en.eq(1),
                                     self.job.valid.eq(1), dj.decrypt.eq(decrypt),
                                     dj.split.action.eq(Mux(decrypt, SPLIT, DROP))]
                    m.next = "IDLE"

        # -- commit --------------------------------------------------------------------------------
        job = data.View(job_layout, jobs.r_data)
        m.d.comb += [static_v.addr.eq(job.sa_index), dyn_v.addr.eq(job.sa_index)]
        sa, state = static_v.data.sa, dyn_v.data
        m.submodules.window = window = ReplayWindow(self.window)
        m.d.comb += [window.state.eq(state.window), window.size.eq(sa.replay_window.size),
                     window.seq_low.eq(job.seq_low), window.esn.eq(sa.flags.esn)]
        t = self.trailer.payload
        m.submodules.inner = inner = IPv4Decoder(64, 4)
        m.d.comb += [inner.data.eq(t.head), inner.available.eq(t.payload_len)]
        tunnel = sa.flags.mode != MODE_TRANSPORT
        packets, nbytes = Signal(64), Signal(64)
        m.d.comb += [packets.eq(state.packets + 1), nbytes.eq(state.bytes + t.payload_len)]
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
            al.dir.eq(DIR_IN), al.sa_index.eq(job.sa_index),
            al.src.eq(Mux(tunnel, inner.fields.src, job.src)), al.dst.eq(Mux(tunnel, inner.fields.dst, job.dst)),
            al.proto.eq(Mux(tunnel, inner.fields.proto, t.next_header)),
            al.has_ports.eq(Mux(tunnel, inner.fields.has_ports, transport_ports)),
            al.sport.eq(Mux(tunnel, inner.fields.sport, ports[16:])),
            al.dport.eq(Mux(tunnel, inner.fields.dport, ports[:16])),
        ]
        pending = Signal(4)  # events still to report: soft, hard (the model's order), auth-fail, replay thresholds
        limits = self.thresholds
        drop = Signal(range(len(NAMES)))
        next_state = Signal(dyn_layout)

        def count(index):
            return counted.eq(Const(1, len(NAMES)) << index)

        event_index = Signal(range(n_sa))

        with m.FSM(name="commit"):
            with m.State("IDLE"):
                with m.If(jobs.r_rdy & (job.kind == KIND_COUNT)):
                    m.d.comb += [c.valid.eq(job.forward), commit_ok.eq(1), ci.length.eq(0xFFFF),
                                 ci.meta.enable.eq(0)]
                    with m.If(~job.forward | c.ready):
                        m.d.comb += [jobs.r_en.eq(1), count(job.counter)]
                with m.Elif(jobs.r_rdy):
                    m.next = "FETCH"
            with m.State("FETCH"):  # the table's read ports register the index
                m.next = "CHECK"
            with m.State("CHECK"):
                m.d.sync += [next_state.eq(state), pending.eq(0), event_index.eq(job.sa_index)]
                ready = ~job.decrypt | (self.trailer.valid & self.icv.valid)
                checked = [
                    (state.dead, "drop_sa_expired"),
                    (job.bad_length, "drop_malformed"),
                    (~window.fresh, "drop_replay"),
                    # the ICV as the model checks it: with the high half inferred from this state
                    # (RFC 4303 A2.2); decrypted with another (inferred while frames were in
                    # flight), the model's AAD differs, so its ICV fails too
                    (~self.icv.payload.ok | (window.seq[32:] != job.seq_high), "drop_auth_fail"),
                ]
                with m.If(ready):
                    m.next = "VERDICT"
                    for k, (failed, name) in enumerate(checked):
                        with (m.If if k == 0 else m.Elif)(failed):
                            m.d.sync += drop.eq(counter(name))
                            for field, bit in (("replay", 3), ("auth_fail", 2)):  # counted, maybe an event
                                if name == f"drop_{field}":
                                    count_, limit = getattr(state, field) + 1, getattr(limits, field)
                                    m.d.sync += [getattr(next_state, field).eq(count_),
                                                 pending[bit].eq((limit != 0) & (count_ == limit))]
                    with m.Else():  # the ICV verified: the window moves (RFC 4303 §3.4.3)
                        m.d.sync += next_state.window.eq(window.next_state)
                        with m.If(~t.pad_ok):
                            m.d.sync += drop.eq(counter("drop_bad_pad"))
                        with m.Elif(t.next_header == NEXT_HEADER_NONE):
                            m.d.sync += drop.eq(counter("drop_dummy"))
                        with m.Elif(tunnel & ((t.next_header != PROTO_IPIP) | ~inner.fields.ok)):
                            m.d.sync += drop.eq(counter("drop_malformed"))
                        with m.Else():
                            m.d.sync += [drop.eq(0), next_state.packets.eq(packets), next_state.bytes.eq(nbytes),
                                         next_state.soft_expired.eq(state.soft_expired | soft),
                                         next_state.dead.eq(hard), pending.eq(Cat(soft, hard))]
                            m.next = "ADMIT"
            with m.State("ADMIT"):  # RFC 4301 §5.2 step 4: a policy of this SA covers the inner packet
                m.d.comb += self.admit_lookup.valid.eq(1)
                with m.If(self.admit_lookup.ready):
                    m.next = "ADMITTED"
            with m.State("ADMITTED"):
                m.d.comb += self.admit.ready.eq(1)
                with m.If(self.admit.valid):
                    m.d.sync += drop.eq(Mux(self.admit.payload.admitted, 0, counter("drop_policy")))
                    m.next = "VERDICT"
            with m.State("VERDICT"):  # write the SA back, commit or discard the frame, count
                m.d.comb += [c.valid.eq(job.decrypt), commit_ok.eq(drop == 0)]
                with m.If(~job.decrypt | c.ready):
                    m.d.comb += [dyn_w.addr.eq(job.sa_index), dyn_w.data.eq(next_state), dyn_w.en.eq(1),
                                 jobs.r_en.eq(1),
                                 self.trailer.ready.eq(job.decrypt), self.icv.ready.eq(job.decrypt),
                                 count(Mux(drop == 0, counter("tx_plain"), drop))]
                    m.next = "EVENTS"
            with m.State("EVENTS"):
                report_events(m, self.events, pending, (EVENT_SOFT, EVENT_HARD, EVENT_AUTH_FAIL, EVENT_REPLAY),
                              event_index)
                with m.If(pending == 0):
                    m.next = "IDLE"
        return m
