"""A wire in place of the appliance, for bringing a board up (`make bitstream LOOPBACK=1`,
docs/boards.md): frames from the LAN leave on the WAN and back, unchanged; frames the host sends
come back to it; its registers read 0. With the board's registers (MAC counters) and the UART
bridge around it, it checks the PHYs, the MACs, the clocks and the serial line before the
appliance goes in. It has the appliance's signature (`espline.gateware.appliance.Appliance`).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from espline.gateware.csr import wishbone
from espline.gateware.packet import packet_signature


class Loopback(wiring.Component):
    def __init__(self, width: int, addr_width: int):
        self.width = width
        super().__init__({
            "plain_i": In(packet_signature(width)), "plain_o": Out(packet_signature(width)),
            "cipher_i": In(packet_signature(width)), "cipher_o": Out(packet_signature(width)),
            "host_i": In(packet_signature(width)), "host_o": Out(packet_signature(width)),
            "bus": In(wishbone.Signature(addr_width)), "irq": Out(1), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        for i, o in ((self.plain_i, self.cipher_o), (self.cipher_i, self.plain_o), (self.host_i, self.host_o)):
            wiring.connect(m, wiring.flipped(i), wiring.flipped(o))
        m.d.sync += self.bus.ack.eq(self.bus.cyc & self.bus.stb & ~self.bus.ack)
        m.d.comb += self.idle.eq(1)
        return m
