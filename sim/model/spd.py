"""The security policy database at work (RFC 4301 §4.4.1): the configured policies
(`espline.config.Policy`) in priority order, searched for each packet.

The first matching policy in priority order wins (lower number first; ties keep configuration
order); an inbound decapsulated packet is instead admitted if any inbound protect policy of its
SA matches (`admits`).
"""

import struct

from espline.config import Policy

from . import ipv4

PORTED = frozenset((6, 17, 132))


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
        self.default = default  # what matches no policy: bypass | discard (`espline.config.Options`)
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
