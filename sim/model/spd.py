"""Security policy database (RFC 4301 §4.4.1): ordered selectors -> protect / bypass / discard.

Selectors are source and destination prefixes, an IP protocol and port ranges. Port ranges
match only packets that carry ports (TCP, UDP, SCTP, first fragment or unfragmented); a
selector that names ports never matches a packet without them (RFC 4301 §4.4.1.1). The first
matching policy in priority order wins (lower number first; ties keep configuration order).
"""

import ipaddress
import struct
from dataclasses import dataclass

from . import ipv4

ACTIONS = ("protect", "bypass", "discard")
PROTOCOL_NAMES = {"any": None, "icmp": 1, "tcp": 6, "udp": 17, "esp": 50, "sctp": 132}
PORTED = frozenset((6, 17, 132))
ANY_PORT = (0, 65535)


@dataclass(frozen=True)
class Selector:
    src: str = "0.0.0.0/0"
    dst: str = "0.0.0.0/0"
    proto: int | None = None
    sport: tuple[int, int] = ANY_PORT
    dport: tuple[int, int] = ANY_PORT

    def __post_init__(self):
        for name in ("src", "dst"):
            try:
                ipaddress.IPv4Network(getattr(self, name))
            except ValueError as e:
                raise ValueError(f"{name}: {e}") from None
        if self.proto is not None and not 0 <= self.proto <= 255:
            raise ValueError(f"proto: {self.proto} is not 0..255")
        for name in ("sport", "dport"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi <= 65535:
                raise ValueError(f"{name}: {lo}-{hi} is not a range within 0..65535")
        src, dst = ipaddress.IPv4Network(self.src), ipaddress.IPv4Network(self.dst)
        object.__setattr__(self, "_match", (int(src.network_address), int(src.netmask),
                                            int(dst.network_address), int(dst.netmask)))

    @property
    def names_ports(self) -> bool:
        return self.sport != ANY_PORT or self.dport != ANY_PORT

    def matches(self, src: int, dst: int, proto: int, ports: tuple[int, int] | None) -> bool:
        snet, smask, dnet, dmask = self._match
        if src & smask != snet or dst & dmask != dnet:
            return False
        if self.proto is not None and proto != self.proto:
            return False
        if not self.names_ports:
            return True
        return ports is not None and (self.sport[0] <= ports[0] <= self.sport[1]
                                      and self.dport[0] <= ports[1] <= self.dport[1])

    def overlaps(self, other: "Selector") -> bool:
        """Whether some packet could match both selectors."""
        def nets(s):
            return ipaddress.IPv4Network(s.src), ipaddress.IPv4Network(s.dst)
        (s1, d1), (s2, d2) = nets(self), nets(other)
        if not (s1.overlaps(s2) and d1.overlaps(d2)):
            return False
        if self.proto is not None and other.proto is not None and self.proto != other.proto:
            return False
        return all(a[0] <= b[1] and b[0] <= a[1]
                   for a, b in ((self.sport, other.sport), (self.dport, other.dport)))


@dataclass(frozen=True)
class Policy:
    dir: str  # "out": plaintext -> ciphertext side; "in": what may arrive from the ciphertext side
    selector: Selector
    action: str
    spi: int | None = None  # the SA of a protect policy
    priority: int = 0

    def __post_init__(self):
        if self.dir not in ("in", "out"):
            raise ValueError(f"dir: {self.dir!r} is not 'in' or 'out'")
        if self.action not in ACTIONS:
            raise ValueError(f"action: {self.action!r} is not one of {', '.join(ACTIONS)}")
        if (self.action == "protect") != (self.spi is not None):
            raise ValueError("spi: a protect policy names exactly one SA; bypass/discard name none")


def packet_fields(packet: bytes, ihl: int) -> tuple[int, int, int, tuple[int, int] | None]:
    """The selector fields of a checked IPv4 packet: src, dst, protocol, (sport, dport) or None."""
    src, dst = struct.unpack_from("!II", packet, 12)
    proto = packet[9]
    ports = None
    if proto in PORTED and not ipv4.is_fragment(packet) and ipv4.total_length(packet) >= ihl + 4:
        ports = struct.unpack_from("!HH", packet, ihl)
    return src, dst, proto, ports


class PolicyDatabase:
    def __init__(self, policies=(), default: str = "discard"):
        if default not in ("bypass", "discard"):
            raise ValueError(f"default: {default!r} is not 'bypass' or 'discard'")
        self.default = default
        self.policies: list[Policy] = []
        for p in policies:
            self.add(p)

    def add(self, policy: Policy) -> None:
        self.policies.append(policy)
        self.policies.sort(key=lambda p: p.priority)

    def admits(self, spi: int, src: int, dst: int, proto: int, ports) -> bool:
        """Whether a packet decapsulated with SA `spi` matches the selectors of an inbound
        policy protecting with that SA (RFC 4301 §5.2 step 4; during a rekey two SAs may
        carry the same traffic, so this is not the first-match lookup)."""
        return any(p.dir == "in" and p.spi == spi and p.selector.matches(src, dst, proto, ports)
                   for p in self.policies)

    def replace(self, old: Policy, new: Policy) -> None:
        """Swap one policy for another in a single step (e.g. to move traffic to a new SA)."""
        self.policies[self.policies.index(old)] = new
        self.policies.sort(key=lambda p: p.priority)

    def remove(self, policy: Policy) -> None:
        self.policies.remove(policy)

    def flush(self) -> None:
        self.policies.clear()

    def lookup(self, dir: str, src: int, dst: int, proto: int, ports) -> Policy | None:
        """The first matching policy, or None (the default action applies)."""
        for p in self.policies:
            if p.dir == dir and p.selector.matches(src, dst, proto, ports):
                return p
        return None
