"""The host side of the UART bridge (espline.gateware.csr.uart_bridge, protocol in its docstring
and docs/boards.md): register reads and writes, and frames to and from the appliance's host port,
over a serial port, one command and one reply at a time.

    read:       'R' A3 A2 A1 A0              ->  'r' D3 D2 D1 D0
    write:      'W' A3 A2 A1 A0 D3 D2 D1 D0  ->  'w'
    frame in:   'F' N1 N0 B0 .. B(N-1)       ->  'f'  ('x': refused, N is 0 or beyond the bridge's buffer)
    frame out:  'P'                          ->  'p' N1 N0 B0 .. B(N-1)  (N = 0: no frame waiting)
"""

from typing import Protocol

MAX_FRAME = 0xFFFF  # what the 16-bit length can say; the bridge's buffer may hold less


class SerialLike(Protocol):
    def write(self, data: bytes) -> int | None: ...

    def read(self, size: int) -> bytes: ...


class FrameRefused(ValueError):
    """The bridge refused a frame: longer than its buffer."""


class UartTransport:
    def __init__(self, port: str | SerialLike, baud: int = 115200, timeout: float = 1.0):
        """`port`: a device path (opened with pyserial, 8N1) or anything with `write` and `read`."""
        if isinstance(port, str):
            import serial
            port = serial.Serial(port, baud, timeout=timeout)
        self.port = port

    def _read(self, length: int, what: str) -> bytes:
        answer = self.port.read(length)
        if len(answer) != length:
            raise TimeoutError(f"UART bridge: expected {length} bytes of {what}, got {answer!r}")
        return answer

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

    def send_frame(self, frame: bytes) -> None:
        """Hand `frame` (an Ethernet frame without FCS) to the appliance's host port; returns once
        it has entered the datapath (it leaves on the ciphertext side)."""
        if not 0 < len(frame) <= MAX_FRAME:
            raise ValueError(f"a frame of {len(frame)} bytes: the bridge takes 1 to {MAX_FRAME}")
        self.port.write(b"F" + len(frame).to_bytes(2, "big") + bytes(frame))
        answer = self._read(1, "the frame's reply")
        if answer == b"x":
            raise FrameRefused(f"the bridge refused a frame of {len(frame)} bytes (beyond its buffer)")
        if answer != b"f":
            raise TimeoutError(f"UART bridge: expected 'f' after a frame, got {answer!r}")

    def receive_frame(self) -> bytes | None:
        """The oldest frame the appliance punted to the host, or None when none is waiting."""
        length = int.from_bytes(self._exchange(b"P", ord("p"), 2), "big")
        return self._read(length, "a frame") if length else None
