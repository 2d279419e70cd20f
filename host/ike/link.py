"""Where the daemon's frames come from and go: the appliance's host port. `SeqpacketLink` is
`espline run`'s Unix SOCK_SEQPACKET socket, one Ethernet frame per message (docs/live.md); the
tests put two daemons on a wire through two reference-model appliances instead
(tests/host/ike/ike_env.py)."""

import select
import socket
from typing import Protocol


class FrameLink(Protocol):
    def send(self, frame: bytes) -> None:
        """Send one Ethernet frame out of the host port (it leaves on the ciphertext side)."""

    def receive(self, timeout: float) -> bytes | None:
        """The next punted frame, or None if none came within `timeout` seconds."""


class SeqpacketLink:
    MAX_FRAME = 65536

    def __init__(self, path: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise OSError(f"no appliance host port at {path}: {e.strerror or e} (is espline run running?)") from None

    def send(self, frame: bytes) -> None:
        self.sock.send(frame)

    def receive(self, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        if not ready:
            return None
        frame = self.sock.recv(self.MAX_FRAME)
        if not frame:
            raise ConnectionError("the appliance closed its host port")
        return frame

    def close(self) -> None:
        self.sock.close()

