"""The UART bridge with the host's UartTransport: the host-side protocol talks to the simulated
UART lines through a bytes pipe (uart_serial.py; 8N1 written from the standard in uart_line.py)."""

import functools

from amaranth.hdl import Module
from amaranth.lib import wiring
from csr_tb import DatapathStub, expected_sa_write
from uart_serial import SimulatedSerial

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


def bridged(**params):
    csr = CsrBlock(rm.compile(**{"N_SA": 4, "N_POLICY": 4, **params}))
    stub = DatapathStub(csr)
    top = BridgedCsr(csr)
    serial = SimulatedSerial(top, top.bridge, DIVISOR, [functools.partial(stub.run, csr=csr)])
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
