"""The register bus of a running device (`espline run`) over a socket: the UART bridge's byte
protocol (espline.host.transport.uart) on a Unix stream socket or a TCP connection."""

import socket


class SocketStream:
    """`write` and `read` of a connected socket, as `UartTransport` uses a serial port: `read`
    returns `size` bytes, or fewer if none come for `timeout` seconds or the device went away."""

    def __init__(self, spec: str, timeout: float = 5.0):
        """`spec`: ``unix:PATH`` or ``tcp:HOST:PORT``."""
        kind, _, where = spec.partition(":")
        if kind == "unix" and where:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address = where
        elif kind == "tcp" and where.rpartition(":")[2].isdigit():
            host, _, port = where.rpartition(":")
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (host, int(port))
        else:
            raise ValueError(f"{spec!r} is not 'unix:PATH' or 'tcp:HOST:PORT'")
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(address)
        except OSError as e:
            self.sock.close()
            raise OSError(f"no device answers on {spec} ({e.strerror or e}): is `espline run` running?") from None

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read(self, size: int) -> bytes:
        data = b""
        try:
            while len(data) < size:
                chunk = self.sock.recv(size - len(data))
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
        return data

    def close(self) -> None:
        self.sock.close()
