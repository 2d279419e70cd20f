"""The UART bridge with the host's UartTransport: the host-side protocol talks to the simulated
UART lines through a bytes pipe; the line encoding on the test side is written here, from 8N1."""

import functools
from collections import deque

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator
from csr_tb import DatapathStub, expected_sa_write
from uart_line import receive, send

from espline import regmap as rm
from espline.config import parse_sa
from espline.gateware.csr.csr import CsrBlock
from espline.gateware.csr.regfile import word_address_width
from espline.gateware.csr.uart_bridge import UartBridge
from espline.host.driver import Espline
from espline.host.transport.uart import UartTransport

DIVISOR = 4  # clock cycles per bit
TIMEOUT = 200


class BridgedCsr(wiring.Component):
    """The CSR block behind the UART bridge, its datapath ports passed through."""

    def __init__(self, csr: CsrBlock):
        self.csr = csr
        self.bridge = UartBridge(word_address_width(csr.regmap), DIVISOR, TIMEOUT)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.csr, m.submodules.bridge = self.csr, self.bridge
        wiring.connect(m, self.bridge.bus, self.csr.bus)
        return m


class SimulatedSerial:
    """`write`/`read` bytes like a serial port; the bytes travel as 8N1 on the bridge's rx/tx lines."""

    def __init__(self, top: BridgedCsr, stub: DatapathStub):
        self.top, self.to_device, self.from_device = top, deque(), deque()
        self.sim = Simulator(top)
        self.sim.add_clock(1e-8)
        self.sim.add_testbench(self._drive, background=True)
        self.sim.add_testbench(self._listen, background=True)
        self.sim.add_testbench(functools.partial(stub.run, csr=top.csr), background=True)
        self.cycles = 0

    async def _drive(self, ctx):
        rx = self.top.bridge.rx
        ctx.set(rx, 1)
        while True:
            if not self.to_device:
                await ctx.tick()
                self.cycles += 1
                continue
            await send(ctx, rx, self.to_device.popleft(), DIVISOR)
            self.cycles += 10 * DIVISOR

    async def _listen(self, ctx):
        while True:
            self.from_device.append(await receive(ctx, self.top.bridge.tx, DIVISOR))

    def write(self, data: bytes) -> int:
        self.to_device.extend(data)
        return len(data)

    def read(self, size: int, budget: int = 4000) -> bytes:
        start = self.cycles
        while len(self.from_device) < size and self.cycles - start < budget:
            self.sim.advance()
        return bytes(self.from_device.popleft() for _ in range(min(size, len(self.from_device))))

    def idle(self, cycles: int) -> None:
        start = self.cycles
        while self.cycles - start < cycles:
            self.sim.advance()


def bridged(**params):
    csr = CsrBlock(rm.compile(**{"N_SA": 4, "N_POLICY": 4, **params}))
    stub = DatapathStub(csr)
    serial = SimulatedSerial(BridgedCsr(csr), stub)
    return UartTransport(serial), serial, stub


def test_registers_over_the_uart():
    transport, _, _ = bridged()
    regmap = rm.compile(N_SA=4, N_POLICY=4)
    assert transport.read(regmap["id"].address) == int.from_bytes(b"ESPL", "big")
    assert transport.read(regmap["cap_tables"].address) == 4 | 4 << 16
    transport.write(regmap["sa_stage.dst"].address, 0xC0000201)
    assert transport.read(regmap["sa_stage.dst"].address) == 0xC0000201
    transport.write(regmap["sa_stage.salt"].address, 0xDEADBEEF)
    assert transport.read(regmap["sa_stage.salt"].address) == 0


def test_driver_over_the_uart():
    transport, _, stub = bridged()
    dev = Espline(transport, scan=False)
    entry = {"spi": 0x4242, "dir": "out", "src": "192.0.2.1", "dst": "198.51.100.2", "mode": "tunnel",
             "key": "0x" + "11" * 16 + "abcdef01", "encap": {"sport": 4500, "dport": 4500}}
    assert dev.add_sa(entry) == 3  # an outbound SA takes the highest free index of N_SA=4
    assert stub.sa_writes == [expected_sa_write(parse_sa(entry), 3)]


def test_a_broken_command_is_abandoned():
    transport, serial, stub = bridged()
    serial.write(b"W\x00\x00\x01")  # a write whose last five bytes were lost
    serial.idle(TIMEOUT + 80 * DIVISOR)
    assert serial.read(1, budget=0) == b""
    assert transport.read(0) == int.from_bytes(b"ESPL", "big")
    assert stub.bus_cycles == 1  # the read; the broken write never reached the bus
    serial.write(b"xyz")  # noise between commands is ignored
    assert transport.read(0) == int.from_bytes(b"ESPL", "big")
