"""The daemon's control socket (`espline ike --control PATH`): a Unix stream socket taking one
command line per connection and answering with lines, then closing. For operators and test
harnesses that drive a running daemon (as swanctl drives charon):

    list                   IKE SAs and their Child SAs, one line each
    initiate NAME          start connection NAME as initiator
    rekey-child NAME       rekey every Child SA of connection NAME
    rekey-ike NAME         rekey connection NAME's IKE SA
    terminate NAME         delete connection NAME's IKE SA (and its Child SAs)

Answers end with a line `ok` or `error: ...`. `request(path, line)` is the client side.
"""

import os
import socket

COMMANDS = ("list", "initiate", "rekey-child", "rekey-ike", "terminate")


class ControlSocket:
    def __init__(self, path: str, daemon):
        self.path, self.daemon = path, daemon
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.setblocking(False)

    def poll(self) -> None:
        """Serve the connections waiting (none: return at once)."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    line = conn.makefile("r").readline().strip()
                    conn.sendall(("\n".join(self.execute(line)) + "\n").encode())
                except OSError:
                    pass

    def execute(self, line: str) -> list[str]:
        words = line.split()
        if not words or words[0] not in COMMANDS:
            return [f"error: unknown command {line!r} (one of: {', '.join(COMMANDS)})"]
        verb, args = words[0], words[1:]
        d = self.daemon
        if verb == "list":
            return [text for sa in d.sas.values() if sa.state != "dead" for text in _describe(sa)] + ["ok"]
        if len(args) != 1 or args[0] not in d.config.connections:
            return [f"error: {verb} needs the name of a connection ({', '.join(d.config.connections)})"]
        name = args[0]
        if verb == "initiate":
            d.initiate(name)
            return ["ok"]
        sas = [sa for sa in d.find(name) if sa.state == "established"]
        if not sas:
            return [f"error: connection {name} has no established IKE SA"]
        for sa in sas:
            if verb == "rekey-child":
                for child in list(sa.children):
                    if not child.rekeying and child.replaced_by is None:
                        sa.rekey_child(child)
            elif verb == "rekey-ike":
                sa.rekey_ike()
            else:
                sa.delete()
        return ["ok"]

    def close(self) -> None:
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def _describe(sa) -> list[str]:
    lines = [f"{sa}: {sa.state} {sa.local_addr}[{sa.conn.local_id}]...{sa.remote_addr}[{sa.conn.remote_id}] "
             f"SPIs {sa.spi_i.hex()}_i {sa.spi_r.hex()}_r{' NAT-T' if sa.nat else ''}"]
    lines += [f"  {c.describe()}{' (outbound pending)' if not c.outbound else ''}" for c in sa.children]
    return lines


def request(path: str, line: str, timeout: float = 5.0) -> list[str]:
    """Send one command to a daemon's control socket; its answer's lines."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(line.encode() + b"\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.decode().splitlines()
