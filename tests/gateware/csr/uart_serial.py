"""A serial port made of a simulated UART bridge: `write`/`read` bytes as a pyserial port does,
the bytes travelling as 8N1 (uart_line.py) on the bridge's rx/tx lines in Amaranth's simulator."""

from collections import deque

from amaranth.sim import Simulator
from uart_line import receive, send


class SimulatedSerial:
    def __init__(self, top, bridge, divisor: int, testbenches=()):
        """`top`: the design simulated; `bridge`: its UartBridge; `testbenches`: async `(ctx)` run alongside."""
        self.bridge, self.divisor = bridge, divisor
        self.to_device, self.from_device = deque(), deque()
        self.sim = Simulator(top)
        self.sim.add_clock(1e-8)
        for tb in (self._drive, self._listen, *testbenches):
            self.sim.add_testbench(tb, background=True)
        self.cycles = 0

    async def _drive(self, ctx):
        rx = self.bridge.rx
        ctx.set(rx, 1)
        while True:
            if not self.to_device:
                await ctx.tick()
                self.cycles += 1
                continue
            await send(ctx, rx, self.to_device.popleft(), self.divisor)
            self.cycles += 10 * self.divisor

    async def _listen(self, ctx):
        while True:
            self.from_device.append(await receive(ctx, self.bridge.tx, self.divisor))

    def write(self, data: bytes) -> int:
        self.to_device.extend(data)
        return len(data)

    def read(self, size: int, budget: int | None = None) -> bytes:
        """Up to `size` bytes; gives up `budget` cycles (default: 4000 and what the bytes still to
        be sent and received take) after the call, as a serial port's timeout does."""
        if budget is None:
            budget = 4000 + 10 * self.divisor * (len(self.to_device) + size)
        start = self.cycles
        while len(self.from_device) < size and self.cycles - start < budget:
            self.sim.advance()
        return bytes(self.from_device.popleft() for _ in range(min(size, len(self.from_device))))

    def idle(self, cycles: int) -> None:
        start = self.cycles
        while self.cycles - start < cycles:
            self.sim.advance()
