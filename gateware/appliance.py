"""The espline appliance: the bump-in-the-wire core with its register interface (GUIDE §1).

Ports: `plain_i`/`plain_o` (trusted LAN), `cipher_i`/`cipher_o` (untrusted WAN), `host_i`/`host_o`
(management CPU: punted IKE out, injected frames in, which leave on the ciphertext side) - all
packet buses (`espline.gateware.packet`) - and `bus`, the Wishbone B4 register interface of
`espline.rdl`, with `irq`. Frame for frame it does what the reference model
`espline.sim.model.Appliance` does, given the same tables.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .arbiter import Arbiter
from .csr.csr import CsrBlock
from .esp.counts import GlobalCounters
from .esp.outbound import Outbound
from .esp.policy_table import PolicyTable
from .packet import beat_layout, packet_signature


class Appliance(wiring.Component):
    def __init__(self, config: str = "wide", *, regmap=None, width: int = 16, default_policy: str = "discard",
                 ipv6: str = "discard", mtu: int = 9000):
        self.csr = CsrBlock(regmap)
        self.config, self.width = config, width
        self.options = {"default_policy": default_policy, "ipv6": ipv6, "mtu": mtu}
        super().__init__({
            "plain_i": In(packet_signature(width)), "cipher_o": Out(packet_signature(width)),
            "host_i": In(packet_signature(width)),
            "bus": In(self.csr.bus.signature.flip()), "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        csr = m.submodules.csr = self.csr
        wiring.connect(m, wiring.flipped(self.bus), csr.bus)
        m.d.comb += self.irq.eq(csr.irq)
        n_sa, n_policy = csr.n_sa, csr.n_policy
        layouts = (csr.sa_write.payload.shape(), csr.sa_counter_response.payload.shape(), csr.event_layout)

        m.submodules.spd = spd = PolicyTable(csr.spd_write.payload.shape(), n_policy, n_sa)
        wiring.connect(m, csr.spd_write, spd.write)
        m.submodules.outbound = outbound = Outbound(*layouts, n_sa, n_policy, config=self.config, width=self.width,
                                                    **self.options)
        wiring.connect(m, wiring.flipped(self.plain_i), outbound.i)
        wiring.connect(m, outbound.lookup, spd.lookup[0])
        wiring.connect(m, spd.result[0], outbound.policy)
        wiring.connect(m, csr.sa_write, outbound.sa_write)
        wiring.connect(m, csr.sa_counter_request, outbound.counter_request)
        wiring.connect(m, outbound.counter_response, csr.sa_counter_response)
        wiring.connect(m, outbound.events, csr.events)

        # the ciphertext side carries protected frames and those the host injects
        m.submodules.to_cipher = to_cipher = Arbiter(beat_layout(self.width), 2)
        wiring.connect(m, outbound.o, to_cipher.i[0])
        wiring.connect(m, wiring.flipped(self.host_i), to_cipher.i[1])
        wiring.connect(m, to_cipher.o, wiring.flipped(self.cipher_o))

        m.submodules.counters = counters = GlobalCounters(csr.global_counters.shape(), 2)
        m.d.comb += [counters.counts[0].eq(outbound.counts), csr.global_counters.eq(counters.values)]
        injected = self.host_i.valid & self.host_i.ready & self.host_i.payload.last
        m.d.comb += [counters.counts[1].rx_host.eq(injected), counters.counts[1].tx_cipher.eq(injected)]
        return m
