"""The host side of the UART bridge (espline.gateware.csr.uart_bridge): register reads and writes
over a serial port, one command and one reply at a time.

    read:   'R' A3 A2 A1 A0              ->  'r' D3 D2 D1 D0
    write:  'W' A3 A2 A1 A0 D3 D2 D1 D0  ->  'w'
"""

from typing import Protocol


class SerialLike(Protocol):
    def write(self, data: bytes) -> int | None: ...

    def read(self, size: int) -> bytes: ...


class UartTransport:
    def __init__(self, port: str | SerialLike, baud: int = 115200, timeout: float = 1.0):
        """`port`: a device path (opened with pyserial, 8N1) or anything with `write` and `read`."""
        if isinstance(port, str):
            import serial
            port = serial.Serial(port, baud, timeout=timeout)
        self.port = port

    def _exchange(self, request: bytes, reply: int, length: int) -> bytes:
        self.port.write(request)
        answer = self.port.read(1 + length)
        if len(answer) != 1 + length or answer[0] != reply:
            raise TimeoutError(f"UART bridge: expected {chr(reply)!r} and {length} bytes, got {answer!r}")
        return answer[1:]

    def read(self, address: int) -> int:
        return int.from_bytes(self._exchange(b"R" + address.to_bytes(4, "big"), ord("r"), 4), "big")

    def write(self, address: int, value: int) -> None:
        self._exchange(b"W" + address.to_bytes(4, "big") + value.to_bytes(4, "big"), ord("w"), 0)
