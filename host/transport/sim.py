"""A transport that drives the CSR block's Wishbone bus in Amaranth's simulator.

The driver is ordinary blocking code; each `read`/`write` queues one bus cycle for a
testbench that acts as the Wishbone master, and steps the simulator (`Simulator.advance`)
until that cycle is acknowledged. Simulated time advances only while the host talks to the
hardware; other testbenches (a model of the datapath, monitors) run alongside.
"""

import functools
from collections import deque
from dataclasses import dataclass

from amaranth.sim import Simulator

from espline.gateware.csr.csr import CsrBlock

CLOCK_PERIOD = 1e-8


@dataclass
class _Cycle:
    address: int
    write: bool
    value: int = 0
    idle: int = 0  # not a bus cycle: let this many clock cycles pass
    done: bool = False


class AmaranthSimTransport:
    def __init__(self, csr: CsrBlock | None = None, testbenches=(), vcd: str | None = None):
        """`csr`: any component with a Wishbone `bus` (the CSR block, the whole appliance);
        `testbenches`: async functions `(ctx, csr)` to run in the background next to the bus master."""
        self.csr = csr or CsrBlock()
        self.sim = Simulator(self.csr)
        self.sim.add_clock(CLOCK_PERIOD)
        self.sim.add_testbench(self._master, background=True)
        for tb in testbenches:
            self.sim.add_testbench(functools.partial(tb, csr=self.csr), background=True)
        self._queue: deque[_Cycle] = deque()
        self._vcd = self.sim.write_vcd(vcd) if vcd else None
        if self._vcd:
            self._vcd.__enter__()

    def close(self) -> None:
        if self._vcd:
            self._vcd.__exit__(None, None, None)
            self._vcd = None

    async def _master(self, ctx):
        bus = self.csr.bus
        ctx.set(bus.sel, 0b1111)
        while True:
            if not self._queue:
                await ctx.tick()
                continue
            cycle = self._queue.popleft()
            if cycle.idle:
                await ctx.tick().repeat(cycle.idle)
                cycle.done = True
                continue
            ctx.set(bus.adr, cycle.address >> 2)
            ctx.set(bus.we, cycle.write)
            ctx.set(bus.dat_w, cycle.value)
            ctx.set(bus.cyc, 1)
            ctx.set(bus.stb, 1)
            # Hold the cycle through the clock edge at which `ack` is seen (Wishbone B4 §3.1.3).
            # (A loop, not tick().until(): a simulation dropped while waiting in until() warns.)
            ack = False
            while not ack:
                _, _, ack, data = await ctx.tick().sample(bus.ack, bus.dat_r)
            if not cycle.write:
                cycle.value = data
            ctx.set(bus.cyc, 0)
            ctx.set(bus.stb, 0)
            cycle.done = True

    def _run(self, cycle: _Cycle) -> int:
        if cycle.address % 4:
            raise ValueError(f"address {cycle.address:#x} is not word aligned")
        self._queue.append(cycle)
        while not cycle.done:
            self.sim.advance()
        return cycle.value

    def read(self, address: int) -> int:
        return self._run(_Cycle(address, write=False))

    def write(self, address: int, value: int) -> None:
        self._run(_Cycle(address, write=True, value=value & 0xFFFFFFFF))

    def idle(self, cycles: int) -> None:
        """Let `cycles` clock cycles pass with the bus idle (for the datapath testbenches)."""
        self._run(_Cycle(0, write=False, idle=cycles))
