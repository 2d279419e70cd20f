"""Reference-model throughput next to scapy's ESP and a bare AES-GCM loop, on the same packets.

Wall-clock figures on a shared machine are noisy: read the ratios, which come from one run.
"""

import argparse
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.layers.inet import IP
from scapy.layers.ipsec import ESP
from scapy.layers.ipsec import SecurityAssociation as ScapySA

from ..model import Port
from ..sites import SPI_AB, hosts, two_sites
from ..traffic import ethernet, ip_packet

SIZES = (64, 576, 1500)  # IPv4 packet sizes (total length)
SECONDS = 0.5  # per measurement


def rate(work, items) -> float:
    """Packets per second of `work` over `items`, repeated for at least SECONDS."""
    done, start = 0, time.perf_counter()
    while True:
        for item in items:
            work(item)
        done += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= SECONDS:
            return done / elapsed


def measure(size: int) -> dict[str, float]:
    a, b = two_sites()
    out_sa = a.sad.get("out", SPI_AB)
    packets = [ip_packet(size, *hosts("tunnel"), seed=i) for i in range(64)]
    frames = [ethernet(p) for p in packets]
    scapy_sa = ScapySA(ESP, spi=SPI_AB, crypt_algo="AES-GCM", crypt_key=out_sa.key,
                       tunnel_header=IP(src=out_sa.src, dst=out_sa.dst))
    scapy_packets = [IP(p) for p in packets]
    aead, salt = AESGCM(out_sa.key[:-4]), out_sa.key[-4:]
    payloads = [p + bytes((-(size + 2)) % 4) + b"\x00\x04" for p in packets]
    aad, iv = bytes(8), bytes(8)

    encap = rate(lambda f: a.process(Port.PLAIN, f), frames)
    wire = [a.process(Port.PLAIN, f).frame for f in frames * (int(encap * SECONDS) // len(frames) + 1)]
    start = time.perf_counter()
    assert all(b.process(Port.CIPHER, w).port is Port.PLAIN for w in wire[-len(wire) // 2 :])
    decap = len(wire) // 2 / (time.perf_counter() - start)
    return {
        "model encap": encap,
        "model decap": decap,
        "scapy encrypt": rate(lambda p: bytes(scapy_sa.encrypt(p)), scapy_packets),
        "bare AESGCM": rate(lambda p: aead.encrypt(salt + iv, p, aad), payloads),
    }


def main(argv=None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    print("Reference model (Python): packets/s, tunnel mode, AES-128-GCM, ICV 16, one run")
    print(f"{'IP bytes':>8} {'model encap':>12} {'model decap':>12} {'scapy':>10} {'bare AEAD':>10}"
          f" {'encap/scapy':>12} {'bare/encap':>11}")
    for size in SIZES:
        r = measure(size)
        print(f"{size:>8} {r['model encap']:>12,.0f} {r['model decap']:>12,.0f} {r['scapy encrypt']:>10,.0f}"
              f" {r['bare AESGCM']:>10,.0f} {r['model encap'] / r['scapy encrypt']:>11.1f}x"
              f" {r['bare AESGCM'] / r['model encap']:>10.1f}x")
    print("goal: encap/scapy >= 10x, bare/encap <= 3x")
