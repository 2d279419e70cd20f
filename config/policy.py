"""Security policies as configured (RFC 4301 §4.4.1): ordered selectors -> protect / bypass / discard.

Selectors are source and destination prefixes, an IP protocol and port ranges. Port ranges
match only packets that carry ports (TCP, UDP, SCTP, first fragment or unfragmented); a
selector that names ports never matches a packet without them (RFC 4301 §4.4.1.1). The first
matching policy in priority order wins (lower number first; ties keep configuration order).
The constructors refuse any field that is wrong on its own; the rules between policies are
`espline.config.validation`'s.
"""

import ipaddress
from dataclasses import dataclass

ACTIONS = ("protect", "bypass", "discard")
PROTOCOL_NAMES = {"any": None, "icmp": 1, "tcp": 6, "udp": 17, "esp": 50, "sctp": 132}
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
        """Whether a packet with these fields (`ports` None: it has none) matches."""
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
