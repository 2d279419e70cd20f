"""The board top (`top.BoardTop`) for simulation: its pins as the ports of a component, its ECP5
I/O and clock primitives replaced by behavioural models (docs/boards.md, "The board in simulation").

`SimBoard` elaborates the very `BoardTop` that `make bitstream` builds, against `SimPins`, a
stand-in for the board's platform: amaranth's I/O buffers ask a platform for their
implementation (`get_io_buffer`), and `SimPins` gives plain logic instead of the ECP5 cells:

* `io.Buffer`: a wire (no pad).
* `io.DDRBuffer` input (IDDRX1F): a register on the rising edge and one on the falling edge of its
  domain's clock; index 0 the rising edge's sample, index 1 that of the falling edge after it.
* `io.DDRBuffer` output (ODDRX1F): both halves registered on the rising edge, the pin showing
  index 0 while the clock is high and index 1 while it is low (`tx_clk`, 1 then 0, is the clock).
* the PLL (`pll.Pll`, an EHXPLLL): `sync` is the oscillator pin's clock itself (the bench gives it
  at 125 MHz), held in reset while `rst` is high, as a PLL before it locks.
* the receive delay (`Board.rx_delay`, ECP5 DELAYG): left out. Nothing here has a propagation
  delay; the bench clocks what it reads a quarter period after the pins change, as a PHY's
  clock delay does (RGMII v2.0 timing).

Everything else, the appliance, MACs, RGMII coding, UART bridge, board registers, LEDs, is the
board's logic unchanged. `divisor` sets the UART bridge's clock cycles per bit (the board's is
1085, 115200 baud at 125 MHz): the byte protocol and the logic are the same at any divisor, and
the simulation runs it at 4 so that the host's register traffic does not take millions of cycles.
"""

from dataclasses import replace

from amaranth.hdl import ClockDomain, ClockSignal, Fragment, Module, Mux, Signal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from espline.gateware.builds import GIGABIT, ApplianceBuild

from .boards import Board
from .top import SYNC_HZ, BoardTop

__all__ = ["SimBoard", "SimPins", "RGMII_PINS"]

#: An RGMII port's pins (`boards.resources`): name, direction, width.
RGMII_PINS = (("rx_clk", "i", 1), ("rx_ctl", "i", 1), ("rx_data", "i", 4),
              ("tx_clk", "o", 1), ("tx_ctl", "o", 1), ("tx_data", "o", 4))
MGMT_PINS = (("rst", "o", 1), ("mdc", "o", 1), ("mdio", "io", 1))
UART_PINS = (("rx", "i", 1), ("tx", "o", 1))


class _Resource:
    def __init__(self, **ports):
        self.__dict__.update(ports)


class _PassThroughPll(wiring.Component):
    """The PLL's place: `sync` is `clk_in`, in reset until `locked`."""

    clk_in: In(1)
    locked: In(1)

    reset_less = False  # the domain's reset, driven here

    def elaborate(self, platform):
        m = Module()
        m.d.comb += ClockSignal("sync").eq(self.clk_in)
        m.submodules.reset = ResetSynchronizer(~self.locked, domain="sync")
        return m


class SimPins:
    """A stand-in for the board's platform: `request` gives `io.SimulationPort`s (kept in
    `ports`, by name such as `eth_rgmii0_rx_data`), `get_io_buffer` the models above, `pll` the
    pass-through clock (kept in `plls`)."""

    def __init__(self):
        self.ports, self.plls = {}, []

    def request(self, name, number=0, *, dir="-"):
        pins = {"eth_rgmii": RGMII_PINS, "eth_mgmt": MGMT_PINS, "uart": UART_PINS}.get(name)
        if pins is None:  # the oscillator, an LED
            return self._port(f"{name}{number}", "o" if name == "led" else "i", 1)
        return _Resource(**{pin: self._port(f"{name}{number}_{pin}", d, w) for pin, d, w in pins})

    def _port(self, name, direction, width):
        self.ports[name] = port = io.SimulationPort(direction, width, name=name)
        return port

    def lookup(self, name, number=0):
        return _Resource(clock=_Resource(frequency=SYNC_HZ))

    def pll(self, in_hz, out_hz):
        self.plls.append(pll := _PassThroughPll())
        return pll

    def get_io_buffer(self, buffer):
        m, port = Module(), buffer.port
        if isinstance(buffer, io.DDRBuffer) and buffer.direction is io.Direction.Input:
            m.domains.fall = ClockDomain(clk_edge="neg", local=True, reset_less=True)
            m.d.comb += ClockSignal("fall").eq(ClockSignal(buffer.i_domain))
            m.d[buffer.i_domain] += buffer.i[0].eq(port.i)
            m.d.fall += buffer.i[1].eq(port.i)
        elif isinstance(buffer, io.DDRBuffer):
            halves = Signal.like(buffer.o)
            m.d[buffer.o_domain] += halves.eq(buffer.o)
            m.d.comb += port.o.eq(Mux(ClockSignal(buffer.o_domain), halves[0], halves[1]))
        else:
            if buffer.direction is not io.Direction.Output:
                m.d.comb += buffer.i.eq(port.i)
            if buffer.direction is not io.Direction.Input:
                m.d.comb += port.o.eq(buffer.o)
        return m


class SimBoard(wiring.Component):
    """One board: `BoardTop(board, build, appliance)` with the UART bridge at `divisor` clock cycles a bit.
    Ports: `clk` (125 MHz), `rst` (held high: the PLL not yet locked), per Ethernet port n (0 LAN,
    1 WAN) `eth<n>_<pin>` for each pin of `RGMII_PINS`, `uart_rx`, `uart_tx`, `phy_rst_n` and `led`."""

    def __init__(self, board: Board, build: ApplianceBuild = GIGABIT, appliance=None, *, divisor: int = 4):
        self.board, self.build, self.appliance, self.divisor = board, build, appliance, divisor
        members = {"clk": In(1), "rst": In(1), "uart_rx": In(1, init=1), "uart_tx": Out(1, init=1),
                   "phy_rst_n": Out(1), "led": Out(max(board.leds, 1))}
        for n in range(2):
            members.update({f"eth{n}_{pin}": (In if d == "i" else Out)(w) for pin, d, w in RGMII_PINS})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        pins = SimPins()
        top = BoardTop(replace(self.board, rx_delay=0.0), self.build, self.appliance, baud=SYNC_HZ / self.divisor)
        m.submodules.board = Fragment.get(top, pins)  # requests the pins
        ports = pins.ports
        (pll,) = pins.plls
        m.d.comb += [pll.locked.eq(~self.rst), ports[f"{self.board.clock}0"].i.eq(self.clk),
                     ports["uart0_rx"].i.eq(self.uart_rx), self.uart_tx.eq(ports["uart0_tx"].o),
                     self.phy_rst_n.eq(ports["eth_mgmt0_rst"].o)]
        for n in range(2):
            for pin, direction, _ in RGMII_PINS:
                port, outer = ports[f"eth_rgmii{n}_{pin}"], getattr(self, f"eth{n}_{pin}")
                m.d.comb += port.i.eq(outer) if direction == "i" else outer.eq(port.o)
        for n in range(self.board.leds):
            if f"led{n}" in ports:  # the top lights as many as it has something to show (at most 5)
                m.d.comb += self.led[n].eq(ports[f"led{n}"].o)
        return m
