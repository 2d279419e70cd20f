"""Inbound classify (RFC 4301 §5.2, RFC 4303 §3.4, RFC 3948 §2-3), per parsed frame from the
ciphertext side, as the model's `Appliance._from_cipher`: malformed -> drop; IPv6 / other
EtherTypes -> the build's rule / forward; ESP (protocol 50, or UDP to 4500 that is neither a
keepalive (absorbed) nor IKE behind a non-ESP marker (punted, as is UDP 500)); other IPv4 ->
the inbound SPD (protect means it should have come in ESP: drop). An ESP frame's SA is the one
the SPI index finds (`spi_index.py`), else `no-sa`; an SA whose NAT-T use differs: `policy`.
It is decrypted unless it is already known to fail (SA dead, length wrong, seen before).

Each frame gets one `verdict` for commit (`inbound_commit.py`) and one decapsulator job, in
the same cycle: both are offered only when both can be taken. What the decisions compare of the
frame's lengths is registered as the record is taken, the ESP length and sequence number (past
the NAT-T choice) at `FIND`, the ESP length check (with its SA's ICV length) in `WINDOW`, so no
decision waits for an adder and a comparator behind it.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import Action, Dir, Mode

from .counts import NAMES
from .decapsulator import DecapJob
from .ipv4_header import big_endian
from .parser import Parsed
from .policy_table import key_layout, result_layout
from .replay import ReplayWindow
from .sa_fields import gcm_command, shared_read_signature
from .sa_table import find_signature, read_signature
from .splitter import DROP, FORWARD, SPLIT

IKE_PORT, NAT_T_PORT, PROTO_ESP, PROTO_UDP = 500, 4500, 50, 17


def counter(name: str) -> int:
    """The index of global counter `name` (docs/model.md)."""
    return NAMES.index(name)


class Verdict(enum.Enum, shape=1):
    COUNT = 0  # count one counter: the frame is dropped, forwarded or punted as it is
    ESP = 1  # decide an ESP frame at commit


def verdict_layout(n_sa: int) -> data.StructLayout:
    """What commit needs of a classified frame."""
    return data.StructLayout({
        "kind": Verdict, "counter": range(len(NAMES)), "forward": 1, "decrypt": 1, "sa_index": range(n_sa),
        "seq_low": 32, "seq_high": 32, "bad_length": 1, "l2_len": 5, "ihl": 4, "src": 32, "dst": 32})


class InboundClassify(wiring.Component):
    def __init__(self, sa: data.StructLayout, state: data.StructLayout, n_sa: int, n_policy: int, *, window: int,
                 default_policy: str = "discard", ipv6: str = "discard"):
        self.window, self.default_bypass, self.ipv6_bypass = window, default_policy == "bypass", ipv6 == "bypass"
        super().__init__({
            "parsed": In(stream.Signature(Parsed)),
            "received": Out(1),  # a frame taken (rx_cipher)
            "idle": Out(1),  # no frame between reading its SA and its verdict
            "hold": In(1),  # take no new frame: the SA table is about to change
            "sa": In(read_signature(sa, n_sa)), "find": In(find_signature(n_sa)),
            "state": In(shared_read_signature(n_sa, state)),  # shared with commit and the snapshots
            "lookup": Out(stream.Signature(key_layout(n_sa))),
            "policy": In(stream.Signature(result_layout(n_policy, n_sa))),
            "job": Out(stream.Signature(DecapJob)),
            "verdict": Out(stream.Signature(verdict_layout(n_sa))),
        })

    def elaborate(self, platform):
        m = Module()
        rec = Signal(Parsed)
        cj, dj = self.verdict.payload, self.job.payload
        m.d.comb += dj.split.action.eq(DROP)
        ip_len = 4 * rec.ihl
        # the lengths the decisions compare, registered with the record: past the IPv4 header
        # (its 4 x IHL) there are fewer than 8 bytes (no UDP header, no SPI and sequence number),
        # fewer than 16 (the same in UDP), a UDP length that is not the rest of the packet, and
        # 1 or at least 4 bytes after the UDP header (a NAT keepalive's, a non-ESP marker's)
        p = self.parsed.payload
        l4_len = Signal(range(-60, 1 << 16))
        m.d.comb += l4_len.eq(p.total_length - 4 * p.ihl)
        short, short_natt, udp_len_bad, keepalive_len, marker_len = (Signal(name=n) for n in (
            "short", "short_natt", "udp_len_bad", "keepalive_len", "marker_len"))
        with m.If(self.parsed.valid & self.parsed.ready):
            m.d.sync += [short.eq(l4_len < 8), short_natt.eq(l4_len < 16), udp_len_bad.eq(p.udp_length != l4_len),
                         keepalive_len.eq(l4_len == 8 + 1), marker_len.eq(l4_len >= 8 + 4)]
        natt = Signal()  # ESP in UDP (RFC 3948 §2.1)
        esp_at = Mux(natt, ip_len + 8, ip_len)  # ESP's offset in the IP packet
        esp_l4 = Mux(natt, rec.l4[64:], rec.l4[:128])  # SPI, seq, IV
        spi, seq_low, iv = big_endian(esp_l4, 0, 4), big_endian(esp_l4, 4, 4), big_endian(esp_l4, 8, 8)
        seq_number = Signal(32)  # seq_low from FIND, where the window's arithmetic starts at a register
        index, found = Signal.like(self.find.index), Signal()
        m.d.comb += [self.find.spi.eq(spi), self.sa.addr.eq(index), self.state.addr.eq(index)]
        entry, state = self.sa.data.sa, self.state.data  # on the shared read ports in EARLY
        # what the frame's decision needs of its SA and of what the SA's state tells, kept from EARLY; the
        # window before the pipeline's updates checked from registers (WINDOW)
        sa, dead, fresh, seq_high = Signal.like(entry), Signal(), Signal(), Signal(32)
        window = Signal.like(state.window)
        m.submodules.early = early = ReplayWindow(self.window)
        m.d.comb += [early.state.eq(window), early.size.eq(sa.replay_window.size),
                     early.seq_low.eq(seq_number), early.esn.eq(sa.flags.esn)]
        esp_len = Signal(17)  # from FIND
        bad_length = Signal()  # from WINDOW
        m.d.comb += [
            dj.tag.eq(rec.tag), dj.split.tag.eq(0),
            dj.split.a.eq(rec.l2_len + Mux(sa.flags.mode == Mode.TRANSPORT, ip_len, 0)),
            dj.split.b.eq(rec.l2_len + esp_at + 16),
            dj.split.c.eq(rec.l2_len + rec.total_length - sa.flags.icv_len),
            dj.split.d.eq(rec.l2_len + rec.total_length),
            dj.split.cut.eq(1),
            *gcm_command(dj.gcm, sa, iv=iv, seq_low=seq_low, seq_high=seq_high,
                         length=esp_len - 16 - sa.flags.icv_len, decrypt=1),
            cj.sa_index.eq(index), cj.seq_low.eq(seq_low), cj.seq_high.eq(seq_high), cj.bad_length.eq(bad_length),
            cj.l2_len.eq(rec.l2_len), cj.ihl.eq(rec.ihl), cj.src.eq(rec.src), cj.dst.eq(rec.dst),
        ]
        lk = self.lookup.payload
        m.d.comb += [lk.dir.eq(Dir.IN), lk.src.eq(rec.src), lk.dst.eq(rec.dst), lk.proto.eq(rec.proto),
                     lk.has_ports.eq(rec.has_ports), lk.sport.eq(rec.sport), lk.dport.eq(rec.dport)]

        def decide(name, action=None):
            """Count `name` at commit; the frame: dropped (no action), forwarded or punted."""
            statements = [cj.kind.eq(Verdict.COUNT), cj.counter.eq(counter(name)), self.verdict.valid.eq(1),
                          self.job.valid.eq(1)]
            if action == "forward":
                statements += [dj.split.action.eq(FORWARD), cj.forward.eq(1)]
            elif action == "punt":
                statements += [dj.split.action.eq(FORWARD), dj.split.tag.eq(1)]
            return statements

        can_decide = self.verdict.ready & self.job.ready  # both or neither
        with m.FSM(name="classify"):
            with m.State("IDLE"):
                m.d.comb += self.idle.eq(1)
                with m.If(self.parsed.valid & ~self.hold):
                    m.d.comb += [self.parsed.ready.eq(1), self.received.eq(1)]
                    m.d.sync += rec.eq(self.parsed.payload)
                    m.next = "CLASSIFY"
            with m.State("CLASSIFY"):
                is_udp = rec.ipv4 & (rec.proto == PROTO_UDP) & ~rec.fragment
                with m.If(~can_decide):
                    pass
                with m.Elif(rec.malformed):
                    m.d.comb += decide("drop_malformed")
                    m.next = "IDLE"
                with m.Elif(rec.ipv6):
                    m.d.comb += decide("tx_plain", "forward") if self.ipv6_bypass else decide("drop_policy")
                    m.next = "IDLE"
                with m.Elif(~rec.ipv4):
                    m.d.comb += decide("tx_plain", "forward")
                    m.next = "IDLE"
                with m.Elif(rec.proto == PROTO_ESP):
                    m.d.sync += natt.eq(0)
                    m.next = "ESP"
                with m.Elif(is_udp & (short | udp_len_bad)):
                    m.d.comb += decide("drop_malformed")  # the UDP length must fill the IP packet
                    m.next = "IDLE"
                with m.Elif(is_udp & ((rec.sport == IKE_PORT) | (rec.dport == IKE_PORT))):
                    m.d.comb += decide("punted", "punt")
                    m.next = "IDLE"
                with m.Elif(is_udp & (rec.dport == NAT_T_PORT)):
                    first = rec.l4[64:96]
                    with m.If(keepalive_len & (first[:8] == 0xFF)):  # NAT keepalive (RFC 3948 §2.3)
                        m.d.comb += decide("drop_keepalive")
                        m.next = "IDLE"
                    with m.Elif(marker_len & (first == 0)):  # non-ESP marker: IKE (§2.2)
                        m.d.comb += decide("punted", "punt")
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
                action = Mux(r.hit, r.action, Mux(self.default_bypass, Action.BYPASS, Action.DISCARD))
                m.d.comb += self.policy.ready.eq(can_decide)
                with m.If(self.policy.valid & can_decide):
                    with m.If(action == Action.BYPASS):
                        m.d.comb += decide("tx_plain", "forward")
                    with m.Else():  # discard, or protect: cleartext where ESP is due
                        m.d.comb += decide("drop_policy")
                    m.next = "IDLE"
            with m.State("ESP"):  # the SPI index reads the SPI's rows
                with m.If(can_decide & (rec.fragment | Mux(natt, short_natt, short))):  # esp_at + 8 bytes
                    m.d.comb += decide("drop_malformed")  # no reassembly
                    m.next = "IDLE"
                with m.Elif(can_decide):
                    m.next = "FIND"
            with m.State("FIND"):  # the SPI index answers, into registers
                m.d.sync += [index.eq(self.find.index), found.eq(self.find.hit), seq_number.eq(seq_low),
                             esp_len.eq(rec.total_length - esp_at)]
                m.next = "ASK"
            with m.State("ASK"):  # the shared read ports are asked for its SA
                m.d.comb += [self.sa.en.eq(1), self.state.en.eq(1)]
                with m.If(self.sa.granted & self.state.granted):
                    m.next = "EARLY"
            with m.State("EARLY"):  # the SA and its state on the shared read ports
                m.d.sync += [sa.eq(entry), dead.eq(state.dead), window.eq(state.window)]
                m.next = "WINDOW"
            with m.State("WINDOW"):
                m.d.sync += [fresh.eq(early.fresh), seq_high.eq(early.seq[32:]),
                             bad_length.eq((esp_len < 18 + sa.flags.icv_len) | ((esp_len - sa.flags.icv_len)[:2] != 0))]
                m.next = "SA"
            with m.State("SA"):
                with m.If(can_decide):
                    with m.If(~found):
                        m.d.comb += decide("drop_no_sa")
                    with m.Elif(sa.flags.natt != natt):
                        m.d.comb += decide("drop_policy")  # arrived with an encapsulation the SA does not use
                    with m.Else():
                        decrypt = ~dead & ~bad_length & fresh
                        m.d.comb += [cj.kind.eq(Verdict.ESP), cj.decrypt.eq(decrypt), self.verdict.valid.eq(1),
                                     self.job.valid.eq(1), dj.decrypt.eq(decrypt),
                                     dj.split.action.eq(Mux(decrypt, SPLIT, DROP))]
                    m.next = "IDLE"
        return m
