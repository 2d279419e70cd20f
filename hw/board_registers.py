"""The board's own registers, next to the appliance's on the UART bridge's bus (docs/boards.md).

Read-only 32-bit words at byte offsets from `BOARD_BASE` (writes are acknowledged and ignored;
unlisted words read 0):

    0x000          ID: "ESPB"
    0x100 + 0x40*p + 4*k   port p (0: LAN, 1: WAN), counter k of `espline.gateware.eth.port.counter_layout`
                           in its order (rx_frames, rx_bad_fcs, rx_runt, rx_oversize, rx_overflow,
                           rx_error, tx_frames, tx_oversize, tx_empty)
    0x200          HOST_DROPPED: frames for the host longer than the UART bridge's frame buffer

The MAC counters live here, not in `regmap/espline.rdl`, because they belong to the board, not to
the appliance: the register map describes the appliance on every board and in simulation, where
there is no MAC.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from espline.gateware.csr import wishbone
from espline.gateware.eth.port import counter_layout

__all__ = ["BOARD_BASE", "ID", "PORT_COUNTERS", "HOST_DROPPED", "BoardRegisters", "counter_address"]

BOARD_BASE = 0x10000
ID, PORT_COUNTERS, PORT_STRIDE, HOST_DROPPED = 0x000, 0x100, 0x40, 0x200
ADDR_WIDTH = 8  # word address bits: 1 KiB


def counter_address(port: int, name: str) -> int:
    """The byte address of a port's counter."""
    return BOARD_BASE + PORT_COUNTERS + PORT_STRIDE * port + 4 * list(counter_layout.members).index(name)


class BoardRegisters(wiring.Component):
    def __init__(self, ports: int = 2):
        self.ports = ports
        super().__init__({"bus": In(wishbone.Signature(ADDR_WIDTH)),
                          "counters": In(data.ArrayLayout(counter_layout, ports)), "host_dropped": In(1)})

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        host_dropped = Signal(32)
        with m.If(self.host_dropped):
            m.d.sync += host_dropped.eq(host_dropped + 1)
        words = {ID >> 2: int.from_bytes(b"ESPB", "big"), HOST_DROPPED >> 2: host_dropped}
        for port in range(self.ports):
            for k, name in enumerate(counter_layout.members):
                words[(PORT_COUNTERS + PORT_STRIDE * port) // 4 + k] = self.counters[port][name]
        m.d.sync += [bus.ack.eq(bus.cyc & bus.stb & ~bus.ack), bus.dat_r.eq(0)]
        with m.Switch(bus.adr):
            for address, value in words.items():
                with m.Case(address):
                    m.d.sync += bus.dat_r.eq(value)
        return m
