"""Where the daemon's frames come from and go: the appliance's host port. `SeqpacketLink` is
`espline run`'s Unix SOCK_SEQPACKET socket, one Ethernet frame per message (docs/live.md);
`MemoryLink` pairs two daemons in one process (the tests)."""

import collections
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


class MemoryLink:
    """One end of an in-process wire: what one end sends, the other receives. `drop` (a
    function of the frame) loses frames on the way, to test retransmission."""

    def __init__(self):
        self.inbox: collections.deque[bytes] = collections.deque()
        self.peer: MemoryLink | None = None
        self.drop = None
        self.sent = 0

    @classmethod
    def pair(cls) -> tuple["MemoryLink", "MemoryLink"]:
        a, b = cls(), cls()
        a.peer, b.peer = b, a
        return a, b

    def send(self, frame: bytes) -> None:
        self.sent += 1
        if self.drop is None or not self.drop(frame):
            self.peer.inbox.append(frame)

    def receive(self, timeout: float = 0) -> bytes | None:
        return self.inbox.popleft() if self.inbox else None
