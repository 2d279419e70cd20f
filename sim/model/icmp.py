"""ICMP "fragmentation needed" for a packet that outgrows the ciphertext side's MTU once protected
(RFC 792 type 3 code 4, RFC 1191 §4, RFC 4301 §8.1-8.2): the answer that lets the sender's Path
MTU Discovery shrink its packets instead of seeing a black hole. Layout and rules: docs/model.md.
"""

from . import ipv4
from .esp import ESP_OVERHEAD
from .sa import SecurityAssociation

PROTO_ICMP = 1
UNREACHABLE, FRAG_NEEDED = 3, 4
ERROR_TYPES = frozenset({3, 4, 5, 11, 12})  # unreachable, quench, redirect, time exceeded, parameter
TTL = 64


def next_hop_mtu(sa: SecurityAssociation, mtu: int, ihl: int) -> int:
    """The largest inner IPv4 packet that fits `mtu` once protected with `sa`: the protected
    packet is H + U + 16 + roundup4(P + 2) + ICV (H: 20 in tunnel mode, the packet's own `ihl`
    in transport mode; U: 8 with NAT-T; P: the encrypted payload, the whole packet in tunnel mode,
    all but its header in transport mode; RFC 4303 §2.4 pads P + 2 to 4 bytes), so
    P = floor4(mtu - H - U - 16 - ICV) - 2, plus the header in transport mode."""
    header = 20 if sa.mode == "tunnel" else ihl
    room = mtu - header - (8 if sa.encap is not None else 0) - ESP_OVERHEAD - sa.icv_bits // 8
    return (room & ~3) - 2 + (0 if sa.mode == "tunnel" else ihl)


def answerable(packet: bytes, ihl: int) -> bool:
    """Whether a too-big packet gets an answer: DF set (RFC 1191 §4), and none of RFC 1122
    §3.2.2's exclusions: an ICMP error, a non-initial fragment, a source that is not one host
    (0/8, 127/8, multicast or above), a multicast or broadcast destination (224/4 and above)."""
    flags = (packet[6] << 8) | packet[7]
    is_error = packet[9] == PROTO_ICMP and len(packet) > ihl and packet[ihl] in ERROR_TYPES
    return (bool(flags & ipv4.DF) and not flags & ipv4.OFFSET_MASK and not is_error
            and packet[12] not in (0, 127) and packet[12] < 224 and packet[16] < 224)


def source(sa: SecurityAssociation, packet: bytes) -> bytes:
    """The answer's source address: in tunnel mode the SA's outer source, the tunnel endpoint whose
    encapsulation imposes the limit (an address of the gateway the sender can route to); in
    transport mode the SA's source is the sender itself, which would discard a packet from its own
    address, so the original destination, the peer whose path the limit is on."""
    return sa.src_bytes if sa.mode == "tunnel" else packet[16:20]


def frag_needed(frame: bytes, l2: int, packet: bytes, ihl: int, src: bytes, mtu: int) -> bytes:
    """The answer to `frame` (its IPv4 `packet` after `l2` header bytes): Ethernet addresses
    swapped, the 802.1Q tag kept; IPv4 from `src` to the original source (TTL 64, ID 0, DF 0);
    ICMP type 3 code 4 with the next-hop MTU `mtu` (RFC 1191 §4) and, as RFC 792 says, the
    original IP header (options included) and the first 8 bytes of its payload."""
    quoted = packet[: min(ihl + 8, ipv4.total_length(packet))]
    icmp = bytearray(bytes((UNREACHABLE, FRAG_NEEDED, 0, 0, 0, 0)) + mtu.to_bytes(2, "big") + quoted)
    icmp[2:4] = ipv4.checksum(bytes(icmp) + b"\0" * (len(icmp) & 1)).to_bytes(2, "big")
    header = ipv4.build(tos=0, length=20 + len(icmp), ident=0, flags_frag=0, ttl=TTL, proto=PROTO_ICMP,
                        src=src, dst=packet[12:16])
    return frame[6:12] + frame[0:6] + frame[12:l2] + header + bytes(icmp)


class RateLimit:
    """A token bucket counted in frames, not time, so that every implementation agrees bit for bit
    (RFC 1812 §4.3.2.8 and RFC 4443 §2.4(f): ICMP errors are rate-limited): it starts full with
    `burst` tokens and gains one (up to `burst`) with every `every`-th frame taken in on the
    plaintext port; an answer takes a token, and without one it is suppressed."""

    def __init__(self, every: int, burst: int):
        if every < 1 or burst < 0:
            raise ValueError(f"icmp rate limit: every {every} (>= 1), burst {burst} (>= 0)")
        self.every, self.burst = every, burst
        self.tokens, self.frames = burst, 0

    def frame_in(self) -> None:
        self.frames += 1
        if self.frames == self.every:
            self.frames, self.tokens = 0, min(self.burst, self.tokens + 1)

    def take(self) -> bool:
        if self.tokens == 0:
            return False
        self.tokens -= 1
        return True
