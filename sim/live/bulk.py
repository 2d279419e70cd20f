"""Traffic for `make live`, run inside the hosts' network namespaces (``python -m espline.sim.live.bulk``).

    serve PORT               TCP: for each connection, read an 8-byte length and that many bytes,
                             answer with their SHA-256 (runs until killed)
    send HOST PORT BYTES [SECONDS]
                             TCP: send BYTES of random data (spread over SECONDS if given), check
                             the receiver's digest; prints JSON
    count PORT SECONDS       UDP: count datagrams until none comes for SECONDS; prints JSON
    blast HOST PORT N SIZE   UDP: send N datagrams of SIZE bytes as fast as the socket takes them
    pace HOST PORT N RATE    UDP: send datagrams 0 .. N-1 (each its number, 8 bytes) at RATE per second
    gaps PORT SECONDS        UDP: the numbers of `pace`'s datagrams received, until none comes for
                             SECONDS: how many distinct, and which are missing below the highest
"""

import hashlib
import json
import os
import socket
import sys
import time


def serve(port: int) -> None:
    with socket.create_server(("0.0.0.0", port)) as server:
        while True:
            conn, _ = server.accept()
            with conn:
                header = conn.recv(8, socket.MSG_WAITALL)
                left, digest = int.from_bytes(header, "big"), hashlib.sha256()
                while left and (chunk := conn.recv(min(left, 1 << 16))):
                    digest.update(chunk)
                    left -= len(chunk)
                conn.sendall(digest.digest())


def send(host: str, port: int, size: int, spread: float = 0.0) -> dict:
    data = os.urandom(size)
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=120) as conn:
        conn.sendall(size.to_bytes(8, "big"))
        chunk = max(1, size // 100) if spread else size or 1
        for i, at in enumerate(range(0, size, chunk)):
            time.sleep(max(0.0, t0 + spread * i / 100 - time.monotonic()))
            conn.sendall(data[at:at + chunk])
        answer = conn.recv(32, socket.MSG_WAITALL)
    seconds = time.monotonic() - t0
    return {"bytes": size, "seconds": seconds, "mbit_per_s": 8 * size / seconds / 1e6,
            "digest_ok": answer == hashlib.sha256(data).digest()}


def count(port: int, quiet: float) -> dict:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind(("0.0.0.0", port))
        s.settimeout(quiet + 30)  # the first datagram may take a while
        received, first, last = 0, None, None
        try:
            while True:
                s.recv(65536)
                last = time.monotonic()
                first = first or last
                received += 1
                s.settimeout(quiet)
        except TimeoutError:
            pass
    span = (last - first) if received > 1 else 0.0
    return {"received": received, "seconds": span, "packets_per_s": (received - 1) / span if span else 0.0}


def blast(host: str, port: int, n: int, size: int) -> dict:
    payload = bytes(size)
    t0 = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(n):
            s.sendto(payload, (host, port))
    return {"sent": n, "seconds": time.monotonic() - t0}


def pace(host: str, port: int, n: int, rate: float) -> dict:
    t0 = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(n):
            time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            s.sendto(i.to_bytes(8, "big"), (host, port))
    return {"sent": n, "seconds": time.monotonic() - t0}


def gaps(port: int, quiet: float) -> dict:
    seen = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind(("0.0.0.0", port))
        s.settimeout(quiet + 30)
        try:
            while True:
                data = s.recv(64)
                if len(data) == 8:
                    seen.add(int.from_bytes(data, "big"))
                s.settimeout(quiet)
        except TimeoutError:
            pass
    top = max(seen, default=-1)
    return {"distinct": len(seen), "highest": top, "missing": sorted(set(range(top + 1)) - seen)}


def main(argv: list[str]) -> None:
    command, *args = argv
    if command == "serve":
        serve(int(args[0]))
    elif command == "send":
        print(json.dumps(send(args[0], int(args[1]), int(float(args[2])), *map(float, args[3:4]))), flush=True)
    elif command == "count":
        print(json.dumps(count(int(args[0]), float(args[1]))), flush=True)
    elif command == "blast":
        print(json.dumps(blast(args[0], int(args[1]), int(args[2]), int(args[3]))), flush=True)
    elif command == "pace":
        print(json.dumps(pace(args[0], int(args[1]), int(args[2]), float(args[3]))), flush=True)
    elif command == "gaps":
        print(json.dumps(gaps(int(args[0]), float(args[1]))), flush=True)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
