"""The board top: the appliance between two gigabit Ethernet ports, managed over the UART
(docs/boards.md).

* clock: an ECP5 PLL (`pll.Pll`) drives the 125 MHz `sync` domain from the board oscillator, held in
  reset until it locks (on the boards by the global set/reset, so `sync` has no reset net:
  `Pll.reset_less`). Every RGMII transmit side runs in `sync` and forwards its clock edge-aligned;
  all three boards' PHYs add the transmit clock delay (`boards`), so no 90-degree clock is needed.
  Each PHY's receive clock is a domain of its own (`eth0_rx`, `eth1_rx`); where the PHY does not
  delay it (`Board.rx_delay`: the Colorlight boards), the received data and control pass through the
  ECP5 input delay (`delayed_input`) instead. A platform with a `pll` of its own supplies the clock
  instead of the EHXPLLL (the simulation's: `sim_board`).
* Ethernet: port 0 (`eth_rgmii` 0) is the LAN, on the appliance's plaintext side; port 1 the WAN,
  on its ciphertext side; each an `RgmiiPhy` and an `EthernetPort` (`espline.gateware.eth`).
  The PHYs are held in reset for `PHY_RESET` cycles after the PLL locks; MDIO is left idle (the
  PHYs come up from their straps).
* management: the UART bridge (`espline.gateware.csr.uart_bridge`) with its host port: registers
  and the appliance's host port (punted frames out, injected frames in) over the board's serial
  port, at `baud`. Its bus reaches the appliance's registers below `BOARD_BASE` (repeating
  every register-map size) and the board's (`board_registers`, MAC counters) from it.
* LEDs: LED 0 lit once the PLL has locked, blinking dark on traffic; with five or more LEDs (Versa)
  LEDs 1-4 show LAN receive, LAN transmit, WAN receive, WAN transmit.
"""

from functools import partial

from amaranth.hdl import Cat, ClockDomain, Module, Mux, Signal
from amaranth.lib import io, wiring

from espline.gateware.builds import GIGABIT, ApplianceBuild
from espline.gateware.csr.uart_bridge import UartBridge
from espline.gateware.eth.port import EthernetPort
from espline.gateware.eth.rgmii import RgmiiPhy
from espline.gateware.packet import beat_layout
from espline.gateware.plumbing import Queue

from .activity import Activity
from .board_registers import BOARD_BASE, BoardRegisters
from .boards import Board
from .delayed_input import DelayedDDRInput
from .pll import Pll

__all__ = ["BoardTop", "SYNC_HZ", "PHY_RESET"]

SYNC_HZ = 125e6
PHY_RESET = 1 << 20  # cycles of PHY reset after lock: 8.4 ms (B50612D and 88E1512 ask for at least 10 us)
FCS = 4


def _power_of_two(at_least: int) -> int:
    return 1 << (at_least - 1).bit_length()


class BoardTop(wiring.Component):
    """`build`: the appliance build (`espline.gateware.builds`); `appliance`: its appliance, or any
    component with the `Appliance` signature at the build's width (default: `build.appliance()`)."""

    def __init__(self, board: Board, build: ApplianceBuild = GIGABIT, appliance=None, *, baud: int = 115200):
        self.board, self.build, self.baud = board, build, baud
        self.appliance = appliance if appliance is not None else build.appliance()
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        board, appliance = self.board, self.appliance
        width, max_frame = self.build.width, self.build.max_frame
        m.submodules.appliance = appliance

        make_pll = getattr(platform, "pll", Pll)
        m.submodules.pll = pll = make_pll(platform.lookup(board.clock, 0).clock.frequency, SYNC_HZ)
        m.domains.sync = ClockDomain("sync", reset_less=pll.reset_less)
        m.submodules.clock = clock = io.Buffer("i", platform.request(board.clock, 0, dir="-"))
        m.d.comb += pll.clk_in.eq(clock.i)

        rx_input = partial(DelayedDDRInput, delay=board.rx_delay) if board.rx_delay else None
        macs = []
        for n in range(2):
            m.domains += ClockDomain(f"eth{n}_rx")
            phy = RgmiiPhy(platform.request("eth_rgmii", n, dir="-"), rx_domain=f"eth{n}_rx", rx_input=rx_input)
            mac = EthernetPort(width, rx_domain=f"eth{n}_rx", max_frame=max_frame + FCS,
                               rx_fifo=max(4096, _power_of_two(2 * (max_frame + FCS))),
                               tx_fifo=max(2048, _power_of_two(max_frame + FCS)))
            m.submodules[f"phy{n}"], m.submodules[f"mac{n}"] = phy, mac
            wiring.connect(m, mac.gmii, phy.gmii)
            macs.append(mac)
        lan, wan = macs
        # each stream between a MAC and the appliance through a two-beat queue, whose `ready` and
        # `valid` come from registers: neither side's handshake logic runs into the other's (it
        # passes a beat every other cycle, `plumbing.Queue`: twice a gigabit port's byte a cycle)
        for name, source, sink in (("lan_in", lan.rx, appliance.plain_i), ("lan_out", appliance.plain_o, lan.tx),
                                   ("wan_in", wan.rx, appliance.cipher_i), ("wan_out", appliance.cipher_o, wan.tx)):
            m.submodules[name] = queue = Queue(beat_layout(width), 2)
            wiring.connect(m, source, queue.i)
            wiring.connect(m, queue.o, sink)

        phy_reset = Signal(range(PHY_RESET + 1), init=PHY_RESET)
        with m.If(phy_reset != 0):
            m.d.sync += phy_reset.eq(phy_reset - 1)
        for n in range(board.mgmt):
            mgmt = platform.request("eth_mgmt", n, dir="-")
            m.submodules[f"phy_reset{n}"] = reset = io.Buffer("o", mgmt.rst)
            m.submodules[f"mdc{n}"] = mdc = io.Buffer("o", mgmt.mdc)
            m.submodules[f"mdio{n}"] = io.Buffer("io", mgmt.mdio)  # left as an input: the PHYs keep their straps
            m.d.comb += [reset.o.eq(phy_reset != 0), mdc.o.eq(0)]

        # management: the bridge's bus to the appliance's registers and the board's
        bridge_width = (BOARD_BASE >> 2).bit_length()
        if len(appliance.bus.adr) >= bridge_width - 1:
            raise ValueError(f"the register map ({len(appliance.bus.adr)} word address bits) reaches BOARD_BASE")
        m.submodules.bridge = bridge = UartBridge(bridge_width, round(SYNC_HZ / self.baud), width=width,
                                                  frame_bytes=_power_of_two(max_frame))
        m.submodules.board_registers = registers = BoardRegisters(len(macs))
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx, m.submodules.uart_tx = rx, tx = io.Buffer("i", uart.rx), io.Buffer("o", uart.tx)
        m.d.comb += [bridge.rx.eq(rx.i), tx.o.eq(bridge.tx),
                     registers.host_dropped.eq(bridge.to_host_dropped)]
        wiring.connect(m, appliance.host_o, bridge.to_host)
        wiring.connect(m, bridge.from_host, appliance.host_i)
        for n, mac in enumerate(macs):
            m.d.comb += registers.counts[n].eq(mac.counts)
        bus, to_board = bridge.bus, bridge.bus.adr[bridge_width - 1]
        for slave, chosen in ((appliance.bus, ~to_board), (registers.bus, to_board)):
            m.d.comb += [slave.cyc.eq(bus.cyc & chosen), slave.stb.eq(bus.stb), slave.we.eq(bus.we),
                         slave.adr.eq(bus.adr), slave.dat_w.eq(bus.dat_w), slave.sel.eq(bus.sel)]
        m.d.comb += [bus.ack.eq(Mux(to_board, registers.bus.ack, appliance.bus.ack)),
                     bus.dat_r.eq(Mux(to_board, registers.bus.dat_r, appliance.bus.dat_r))]

        # LEDs: 0 lit once the PLL has locked, dark for a moment on traffic; then one per port and direction
        alive = Signal()
        m.d.sync += alive.eq(1)
        traffic = [pulse for mac in macs for pulse in (mac.counts.rx_frames, mac.counts.tx_frames)]  # a frame counted
        shown = [(alive, Cat(*traffic).any())]
        if board.leds > len(traffic):
            shown += [(0, pulse) for pulse in traffic]
        for n, (base, pulse) in enumerate(shown[: board.leds]):
            m.submodules[f"led{n}"] = led = Activity()
            m.submodules[f"led{n}_pin"] = pin = io.Buffer("o", platform.request("led", n, dir="-"))
            m.d.comb += [led.base.eq(base), led.pulse.eq(pulse), pin.o.eq(led.led)]
        return m
