"""The appliance test bench: clock, reset, one source/sink per packet port, the Wishbone master,
and the host driver over a cocotb transport.

The driver (`espline.host.driver.Espline`) is blocking code. :meth:`ApplianceBench.host` runs a
driver call in a `cocotb.task.bridge` thread; its transport turns each register read or write
into a `cocotb.task.resume` call of the async :class:`.components.WishboneMaster`, so the
simulation advances while the driver waits for the bus.
"""

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge

from .components import PacketSink, PacketSource, WishboneMaster

__all__ = ["INPUTS", "OUTPUTS", "ApplianceBench", "CocotbTransport"]

INPUTS = ("plain_i", "cipher_i", "host_i")
OUTPUTS = ("plain_o", "cipher_o", "host_o")


class CocotbTransport:
    """`espline.host.transport.Transport` over a :class:`WishboneMaster`; call it only from a
    bridge thread (:meth:`ApplianceBench.host`)."""

    def __init__(self, master: WishboneMaster):
        self._read, self._write = resume(master.read), resume(master.write)

    def read(self, address: int) -> int:
        return self._read(address)

    def write(self, address: int, value: int) -> None:
        self._write(address, value)


class ApplianceBench:
    """Owns the clock and reset and the components on whichever of the appliance's ports the DUT
    has (``sources``/``sinks`` by port name, ``bus``). ``seed`` seeds every component's stalls;
    ``burst``: their mean run length (:class:`.components.Stalls`)."""

    def __init__(self, dut, *, width: int = 16, seed: int = 0, valid_prob: float = 1.0, ready_prob: float = 1.0,
                 burst: float = 1, period_ns: int = 10):
        self.dut, self.width, self.period_ns = dut, width, period_ns
        self.sources = {n: PacketSource(dut, n, width, valid_prob=valid_prob, burst=burst, seed=f"{seed}:{n}")
                        for n in INPUTS if hasattr(dut, f"{n}__valid")}
        self.sinks = {n: PacketSink(dut, n, width, ready_prob=ready_prob, burst=burst, seed=f"{seed}:{n}")
                      for n in OUTPUTS if hasattr(dut, f"{n}__valid")}
        self.bus = WishboneMaster(dut) if hasattr(dut, "bus__cyc") else None
        self._components = [*self.sources.values(), *self.sinks.values(), *([self.bus] if self.bus else [])]
        self.cycle = 0

    def add(self, component):
        """Clock one more component (``drive()``/``sample()``) in the loop; returns it."""
        self._components.append(component)
        return component

    async def start(self, reset_cycles: int = 4) -> None:
        """Start the clock, hold reset, then start the per-cycle loop."""
        Clock(self.dut.clk, self.period_ns, unit="ns").start()
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, reset_cycles)
        self.dut.rst.value = 0
        self._task = cocotb.start_soon(self._loop())

    async def _loop(self) -> None:
        clk, components = self.dut.clk, self._components
        while True:
            await RisingEdge(clk)
            for c in components:
                c.drive()
            await ReadOnly()
            for c in components:
                c.sample()
            self.cycle += 1

    async def cycles(self, n: int) -> None:
        await ClockCycles(self.dut.clk, n)

    async def host(self, fn, *args, **kwargs):
        """Run blocking host code ``fn(*args, **kwargs)`` (e.g. a driver call) and return its result."""
        return await bridge(fn)(*args, **kwargs)

    def transport(self) -> CocotbTransport:
        return CocotbTransport(self.bus)
