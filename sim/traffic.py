"""Test traffic: Ethernet frames carrying IPv4 packets of exact sizes, built with scapy.

Shared by the tests, the demo and the benchmarks so they all speak of the same packets.
"""

import random

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Dot1Q, Ether

MAC_A = "02:00:00:00:00:0a"
MAC_B = "02:00:00:00:00:0b"


def ip_packet(size: int, src: str, dst: str, proto: str = "udp", sport: int = 1234, dport: int = 5678,
              tos: int = 0, df: bool = False, seed: int = 0) -> bytes:
    """An IPv4 packet of exactly `size` bytes (total length) with a random payload."""
    l4 = {"udp": UDP(sport=sport, dport=dport), "tcp": TCP(sport=sport, dport=dport, flags="A"),
          "icmp": ICMP()}[proto]
    header = IP(src=src, dst=dst, tos=tos, flags="DF" if df else 0, id=seed & 0xFFFF) / l4
    room = size - len(header)
    if room < 0:
        raise ValueError(f"size: {size} is below the {len(header)}-byte {proto} header")
    payload = random.Random(seed).randbytes(room)
    return bytes(header / payload)


def ethernet(packet: bytes, vlan: int | None = None, src: str = MAC_A, dst: str = MAC_B) -> bytes:
    """An Ethernet II frame (optionally 802.1Q-tagged) around an IPv4 packet (no FCS, no padding)."""
    if vlan is None:
        return bytes(Ether(src=src, dst=dst, type=0x0800)) + packet
    return bytes(Ether(src=src, dst=dst) / Dot1Q(vlan=vlan, type=0x0800)) + packet


def arp_frame() -> bytes:
    return bytes(Ether(src=MAC_A, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.1.0.1", pdst="10.1.0.2"))
