"""The espline appliance: the bump-in-the-wire core with its register interface (docs/datapath.md).

Ports: `plain_i`/`plain_o` (trusted LAN), `cipher_i`/`cipher_o` (untrusted WAN), `host_i`/`host_o`
(management CPU: punted IKE out, injected frames in, which leave on the ciphertext side) - all
packet buses (`espline.gateware.packet`) - and `bus`, the Wishbone B4 register interface of
`espline.rdl`, with `irq`. Frame for frame it does what the reference model
`espline.sim.model.Appliance` does, given the same tables. `idle` is 1 when no frame is inside:
every frame taken in on an input has left an output whole or been counted as ended inside (a
drop, a punted frame the host queue lost); a harness reads the counters once it is.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import Event

from .csr.csr import CsrBlock
from .esp.counts import ENDED_INSIDE, GlobalCounters
from .esp.inbound import Inbound
from .esp.outbound import Outbound
from .esp.policy_table import PolicyTable
from .esp.sa_fields import report_events
from .esp.sa_table import SaTable
from .packet import beat_layout, packet_signature
from .plumbing import Arbiter, Fanout


class Appliance(wiring.Component):
    def __init__(self, config: str = "wide", *, ghash_digit: int = 16, regmap=None, width: int = 16,
                 default_policy: str = "discard",
                 ipv6: str = "discard", mtu: int = 9000, host_queue: int = 4096, store: int = 16384,
                 icmp_every: int = 16, icmp_burst: int = 4):
        self.csr = CsrBlock(regmap)
        self.config, self.width = config, width
        self.ghash_digit = ghash_digit  # the compact engines' GHASH digit (docs/gcm.md)
        self.options, self.mtu = {"default_policy": default_policy, "ipv6": ipv6}, mtu
        self.icmp_limit = {"icmp_every": icmp_every, "icmp_burst": icmp_burst}  # the model's RateLimit
        self.host_queue = host_queue  # bytes of punted frames waiting for the host to read host_o
        self.store_words = store // width  # each packet buffer's words (of both intakes and the verified buffer)
        super().__init__({
            "plain_i": In(packet_signature(width)), "plain_o": Out(packet_signature(width)),
            "cipher_i": In(packet_signature(width)), "cipher_o": Out(packet_signature(width)),
            "host_i": In(packet_signature(width)), "host_o": Out(packet_signature(width)),
            "bus": In(self.csr.bus.signature.flip()), "irq": Out(1), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        csr = m.submodules.csr = self.csr
        wiring.connect(m, wiring.flipped(self.bus), csr.bus)
        m.d.comb += self.irq.eq(csr.irq)
        n_sa, n_policy = csr.n_sa, csr.n_policy
        sa = csr.sa_write.payload.shape().members["entry"]
        layouts = (sa, csr.sa_counter_response.payload.shape(), csr.event_layout)

        m.submodules.spd = spd = PolicyTable(csr.spd_write.payload.shape(), n_policy, n_sa, lookups=3)
        wiring.connect(m, csr.spd_write, spd.write)
        max_frame = csr.regmap.params["MAX_FRAME"]
        m.submodules.outbound = outbound = Outbound(*layouts, n_sa, n_policy, config=self.config,
                                                    ghash_digit=self.ghash_digit, width=self.width,
                                                    store_words=self.store_words, max_frame=max_frame, mtu=self.mtu,
                                                    **self.icmp_limit,
                                                    **self.options)
        m.submodules.inbound = inbound = Inbound(*layouts, csr.thresholds.shape(), n_sa, n_policy,
                                                 window=csr.regmap.params["WINDOW"], max_frame=max_frame,
                                                 config=self.config, ghash_digit=self.ghash_digit, width=self.width,
                                                 store_words=self.store_words,
                                                 host_queue=self.host_queue,
                                                 **self.options)
        directions = (outbound, inbound)
        wiring.connect(m, wiring.flipped(self.plain_i), outbound.i)
        wiring.connect(m, wiring.flipped(self.cipher_i), inbound.i)
        # the plaintext side carries decapsulated frames and the ICMP answers to too-big ones (which
        # wait in their own queue: they never stall the inbound path)
        m.submodules.to_plain = to_plain = Arbiter(beat_layout(self.width), 2)
        wiring.connect(m, inbound.o, to_plain.i[0])
        wiring.connect(m, outbound.icmp_o, to_plain.i[1])
        wiring.connect(m, to_plain.o, wiring.flipped(self.plain_o))
        wiring.connect(m, inbound.host, wiring.flipped(self.host_o))
        for port, (lookup, result) in enumerate(((outbound.lookup, outbound.policy), (inbound.lookup, inbound.policy),
                                                 (inbound.admit_lookup, inbound.admit))):
            wiring.connect(m, lookup, spd.lookup[port])
            wiring.connect(m, spd.result[port], result)

        # one SA table; each direction holds its SAs' dynamic state, so counter snapshots go to both
        m.submodules.sa_table = table = SaTable(csr.sa_write.payload.shape(), n_sa, readers=3, copies=(0, 0, 0))
        wiring.connect(m, csr.sa_write, table.write)
        m.d.comb += csr.sa_refused.eq(table.refused)
        reads = iter(table.read)
        for k, direction in enumerate(directions):
            for name, member in direction.table.signature.members.items():
                if member.is_signature and name != "find":
                    wiring.connect(m, next(reads), getattr(direction.table, name))
            m.d.comb += [direction.table.hold.eq(table.hold), direction.table.renewed.eq(table.renewed),
                         table.quiet[k].eq(direction.table.quiet)]
        wiring.connect(m, table.find, inbound.table.find)
        m.submodules.snapshots = snapshots = Fanout(csr.sa_counter_request.payload.shape(), 2)
        wiring.connect(m, csr.sa_counter_request, snapshots.i)
        for k, direction in enumerate(directions):
            wiring.connect(m, snapshots.o[k], direction.counter_request)
        # an SA's counters are its own direction's; the other's entry is zero (reset at the write)
        answers = [d.counter_response for d in directions]
        both = answers[0].valid & answers[1].valid
        m.d.comb += [csr.sa_counter_response.valid.eq(both),
                     csr.sa_counter_response.payload.eq(answers[0].payload.as_value() | answers[1].payload.as_value()),
                     *[a.ready.eq(both & csr.sa_counter_response.ready) for a in answers]]
        m.submodules.events = events = Arbiter(csr.event_layout, 3, framed=False)
        for k, direction in enumerate(directions):
            wiring.connect(m, direction.events, events.i[k])
        desync = Signal()  # a frame and a decision did not pair up: one event until it is taken
        report_events(m, events.i[2], desync, (Event.DESYNC,), 0)
        with m.If(outbound.counts.drop_desync | inbound.counts.drop_desync):
            m.d.sync += desync.eq(1)
        wiring.connect(m, events.o, csr.events)

        # the ciphertext side carries protected frames and those the host injects
        m.submodules.to_cipher = to_cipher = Arbiter(beat_layout(self.width), 2)
        wiring.connect(m, outbound.o, to_cipher.i[0])
        wiring.connect(m, wiring.flipped(self.host_i), to_cipher.i[1])
        wiring.connect(m, to_cipher.o, wiring.flipped(self.cipher_o))

        m.d.comb += inbound.thresholds.eq(csr.thresholds)

        m.submodules.counters = counters = GlobalCounters(3)
        wiring.connect(m, csr.global_counters, counters.read)
        m.d.comb += [counters.counts[0].eq(outbound.counts), counters.counts[1].eq(inbound.counts)]
        injected = self.host_i.valid & self.host_i.ready & self.host_i.payload.last
        m.d.comb += [counters.counts[2].rx_host.eq(injected), counters.counts[2].tx_cipher.eq(injected)]

        # frames inside: + each frame in (at its last beat: frames are delimited by `last` alone) and
        # each ICMP answer made, - each last beat out and each frame ended inside (a too-big frame once
        # the ICMP block has seen it pass, an answer the ICMP queue lost)
        entered = (sum(p.valid & p.ready & p.payload.last for p in (self.plain_i, self.cipher_i, self.host_i))
                   + outbound.counts.icmp_sent)
        left = sum(p.valid & p.ready & p.payload.last for p in (self.plain_o, self.cipher_o, self.host_o))
        ended = sum(getattr(d.counts, name) for d in directions for name in ENDED_INSIDE) + outbound.too_big_passed
        inside = Signal(16)
        m.d.sync += inside.eq(inside + entered - left - ended)
        m.d.comb += self.idle.eq(inside == 0)
        return m
