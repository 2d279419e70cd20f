"""A wire in place of the appliance, for bringing a board up (`make bitstream LOOPBACK=1`,
docs/boards.md): frames from the LAN leave on the WAN and back, unchanged; frames the host sends
come back to it; its registers read 0. Each stream passes a small queue, so that no
combinational path runs from one MAC's ready to the other's. With the board's registers (MAC
counters) and the UART bridge around it, it checks the PHYs, the MACs, the clocks and the serial
line before the appliance goes in. It has the appliance's signature
(`espline.gateware.appliance.Appliance`).
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from espline.gateware.csr import wishbone
from espline.gateware.packet import beat_layout, packet_signature
from espline.gateware.plumbing import Queue

QUEUE = 4  # beats; registered ready and valid on both sides (SyncFIFOBuffered)


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
        pairs = {"lan_to_wan": (self.plain_i, self.cipher_o), "wan_to_lan": (self.cipher_i, self.plain_o),
                 "host": (self.host_i, self.host_o)}
        for name, (i, o) in pairs.items():  # through a queue: no path from one port's ready to the other's
            m.submodules[name] = queue = Queue(beat_layout(self.width), QUEUE)
            wiring.connect(m, wiring.flipped(i), queue.i)
            wiring.connect(m, queue.o, wiring.flipped(o))
        m.d.sync += self.bus.ack.eq(self.bus.cyc & self.bus.stb & ~self.bus.ack)
        m.d.comb += self.idle.eq(1)
        return m
