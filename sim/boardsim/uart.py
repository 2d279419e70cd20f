"""The host's serial line on a simulated board's UART pins, for the host driver: 8N1, least
significant bit first, `divisor` clock periods a bit, timed with simulator timers (no Python per
clock cycle). `SimSerial` is what `espline.host.transport.uart.UartTransport` takes as its port
(`write`, `read`), for blocking host code running in a `cocotb.task.bridge` thread."""

from collections import deque

import cocotb
from cocotb.task import resume
from cocotb.triggers import Event, FallingEdge, First, Timer

__all__ = ["SerialPins", "SimSerial"]


class SerialPins:
    """The host's end of a board's UART: `rx` (the board's input, driven here) and `tx` (read
    here: every byte the board sends is kept, in order, a framing error raises)."""

    def __init__(self, rx, tx, bit_ns: float):
        self.rx, self.tx, self.bit_ns = rx, tx, bit_ns
        self.rx.value = 1
        self.received: deque[int] = deque()
        self._arrived = Event()
        self._task = cocotb.start_soon(self._listen())

    async def send(self, data: bytes) -> None:
        for byte in data:
            for bit in (0, *(byte >> i & 1 for i in range(8)), 1):
                self.rx.value = bit
                await Timer(self.bit_ns, unit="ns")

    async def _listen(self) -> None:
        while True:
            await FallingEdge(self.tx)
            await Timer(1.5 * self.bit_ns, unit="ns")  # the middle of data bit 0
            byte = 0
            for i in range(8):
                byte |= int(self.tx.value) << i
                await Timer(self.bit_ns, unit="ns")
            if not int(self.tx.value):
                raise AssertionError("UART: the board sent a byte without its stop bit")
            self.received.append(byte)
            self._arrived.set()

    async def read(self, size: int, timeout_ns: float) -> bytes:
        """Up to `size` bytes, fewer if they do not all come within `timeout_ns` (as pyserial's)."""
        deadline = Timer(timeout_ns, unit="ns")
        while len(self.received) < size:
            self._arrived.clear()
            if await First(self._arrived.wait(), deadline) is deadline:
                break
        return bytes(self.received.popleft() for _ in range(min(size, len(self.received))))


class SimSerial:
    """`SerialPins` as a blocking serial port; `timeout_ns` of simulated time per read."""

    def __init__(self, pins: SerialPins, timeout_ns: float = 2e6):
        self._send, self._read, self.timeout_ns = resume(pins.send), resume(pins.read), timeout_ns

    def write(self, data: bytes) -> int:
        self._send(bytes(data))
        return len(data)

    def read(self, size: int) -> bytes:
        return self._read(size, self.timeout_ns)
