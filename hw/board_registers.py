"""The board's own registers, next to the appliance's on the UART bridge's bus (docs/boards.md).

Read-only 32-bit words at byte offsets from `BOARD_BASE` (writes are acknowledged and ignored;
unlisted words read 0):

    0x000          ID: "ESPB"
    0x100 + 0x40*p + 4*k   port p (0: LAN, 1: WAN), counter k of `espline.gateware.eth.port.COUNTERS`
                           in its order (rx_frames, rx_bad_fcs, rx_runt, rx_oversize, rx_overflow,
                           rx_error, tx_frames, tx_oversize, tx_empty)
    0x200          HOST_DROPPED: frames for the host longer than the UART bridge's frame buffer

The counters (32 bits, wrapping) are a `CounterMemory` that the ports' and the bridge's pulses
feed: a read of a counter waits for its turn, at most one cycle per counter (19) more than the
other words.
The MAC counters live here, not in `regmap/espline.rdl`, because they belong to the board, not to
the appliance: the register map describes the appliance on every board and in simulation, where
there is no MAC.
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from espline.gateware.counter_memory import CounterMemory
from espline.gateware.csr import wishbone
from espline.gateware.eth.port import COUNTERS, count_layout

__all__ = ["BOARD_BASE", "ID", "PORT_COUNTERS", "HOST_DROPPED", "BoardRegisters", "counter_address"]

BOARD_BASE = 0x10000
ID, PORT_COUNTERS, PORT_STRIDE, HOST_DROPPED = 0x000, 0x100, 0x40, 0x200
ADDR_WIDTH = 8  # word address bits: 1 KiB


def counter_address(port: int, name: str) -> int:
    """The byte address of a port's counter."""
    return BOARD_BASE + PORT_COUNTERS + PORT_STRIDE * port + 4 * COUNTERS.index(name)


class BoardRegisters(wiring.Component):
    def __init__(self, ports: int = 2):
        self.ports = ports
        super().__init__({"bus": In(wishbone.Signature(ADDR_WIDTH)),
                          "counts": In(data.ArrayLayout(count_layout, ports)), "host_dropped": In(1)})

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        # the counters' word addresses, in the order of their pulses
        addresses = [(PORT_COUNTERS + PORT_STRIDE * port) // 4 + k for port in range(self.ports)
                     for k in range(len(COUNTERS))] + [HOST_DROPPED >> 2]
        m.submodules.counters = counters = CounterMemory(len(addresses))
        m.d.comb += counters.pulses.eq(Cat(self.counts, self.host_dropped))
        asked = bus.cyc & bus.stb & ~bus.ack
        m.d.sync += [bus.ack.eq(asked), bus.dat_r.eq(0)]  # unless a counter is read: at once
        with m.Switch(bus.adr):
            with m.Case(ID >> 2):
                m.d.sync += bus.dat_r.eq(int.from_bytes(b"ESPB", "big"))
            for index, address in enumerate(addresses):
                with m.Case(address):
                    m.d.comb += counters.read.index.eq(index)
                    with m.If(~bus.we):
                        m.d.sync += [bus.ack.eq(asked & counters.read.valid), bus.dat_r.eq(counters.read.value)]
        return m
