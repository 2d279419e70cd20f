"""Security associations and the SA database (RFC 4301 §4.4.2).

An SA is unidirectional: `dir="out"` SAs encapsulate (they own the sequence counter),
`dir="in"` SAs decapsulate (they own the replay window). Lifetimes count the packets and
bytes of protected payload (the inner IP packet in tunnel mode, the upper-layer payload
in transport mode); soft expiry raises an event, hard expiry stops the SA (RFC 4301 §4.4.2.1).

Never two frames under one (key, nonce): the GCM IV is the sequence number (RFC 4106 §3), so an
SA's key and salt go with its sequence counter and replay window for its whole life. An update
(`SaDatabase.update`, as Linux's `xfrm_state_update`) rewrites only the fields in `MUTABLE` and
keeps the rest and the state; a new key is a new SA (a rekey, RFC 4301 §4.4.2.1).
"""

import ipaddress
from dataclasses import dataclass, field
from enum import Enum

from .aead import EspGcm
from .replay import ReplayWindow

AEAD_NAME = "rfc4106(gcm(aes))"

#: What an update may change: outer addresses, TTL, DF, NAT-T encapsulation, lifetimes. The
#: replay window's size is fixed: grown, it would reach back to packets it no longer remembers.
MUTABLE = ("src", "dst", "ttl", "df", "encap", "lifetime")
#: What identifies an SA or goes with its sequence counter; an update that changes one is refused.
FIXED = ("spi", "dir", "key", "mode", "esn", "icv_bits", "replay_window")


class Event(Enum):
    SOFT_LIFETIME = "soft-lifetime"
    HARD_LIFETIME = "hard-lifetime"
    SEQ_EXHAUSTED = "seq-exhausted"


@dataclass(frozen=True)
class Lifetime:
    """Soft and hard limits; 0 means no limit."""
    soft_packets: int = 0
    hard_packets: int = 0
    soft_bytes: int = 0
    hard_bytes: int = 0


@dataclass(frozen=True)
class NatT:
    """ESP-in-UDP encapsulation (RFC 3948 §2.1)."""
    sport: int = 4500
    dport: int = 4500


@dataclass
class SaCounters:
    packets: int = 0
    bytes: int = 0
    auth_fail: int = 0
    replay: int = 0


@dataclass
class SecurityAssociation:
    spi: int
    dir: str  # "out" | "in"
    src: str  # outer source (tunnel) / local peer (transport)
    dst: str
    mode: str  # "tunnel" | "transport"
    key: bytes  # AES key ‖ 4-byte salt (RFC 4106 §8.1)
    icv_bits: int = 128
    esn: bool = False
    replay_window: int = 128
    encap: NatT | None = None
    lifetime: Lifetime = Lifetime()
    ttl: int = 64  # outer TTL (tunnel mode)
    df: str = "copy"  # outer DF: copy | set | clear (RFC 4301 §8.1)
    seq: int = 0  # last sequence number sent (dir out)
    counters: SaCounters = field(default_factory=SaCounters)
    soft_expired: bool = False
    dead: bool = False  # hard lifetime reached or sequence numbers exhausted

    def __post_init__(self):
        if not 0 < self.spi <= 0xFFFFFFFF or self.spi < 256:
            raise ValueError(f"spi: {self.spi:#x} is reserved (1..255 are IANA-reserved, 0 is invalid)")
        if self.dir not in ("in", "out"):
            raise ValueError(f"dir: {self.dir!r} is not 'in' or 'out'")
        if self.mode not in ("tunnel", "transport"):
            raise ValueError(f"mode: {self.mode!r} is not 'tunnel' or 'transport'")
        if self.df not in ("copy", "set", "clear"):
            raise ValueError(f"df: {self.df!r} is not 'copy', 'set' or 'clear'")
        if not 1 <= self.ttl <= 255:
            raise ValueError(f"ttl: {self.ttl} is not 1..255")
        for name in ("src", "dst"):
            try:
                ipaddress.IPv4Address(getattr(self, name))
            except ValueError:
                raise ValueError(f"{name}: {getattr(self, name)!r} is not an IPv4 address") from None
        if self.icv_bits % 8:
            raise ValueError(f"icv: {self.icv_bits} bits is not one of 64, 96, 128")
        self.aead = EspGcm(self.key, self.icv_bits // 8)
        self.window = ReplayWindow(self.replay_window, self.esn)
        self.src_bytes = ipaddress.IPv4Address(self.src).packed
        self.dst_bytes = ipaddress.IPv4Address(self.dst).packed

    @property
    def seq_max(self) -> int:
        return (1 << 64) - 1 if self.esn else (1 << 32) - 1

    def account(self, nbytes: int) -> list[Event]:
        """Count one protected packet against the lifetimes; return the events it raised."""
        self.counters.packets += 1
        self.counters.bytes += nbytes
        c, lt, events = self.counters, self.lifetime, []
        if not self.soft_expired and ((lt.soft_packets and c.packets >= lt.soft_packets)
                                      or (lt.soft_bytes and c.bytes >= lt.soft_bytes)):
            self.soft_expired = True
            events.append(Event.SOFT_LIFETIME)
        if (lt.hard_packets and c.packets >= lt.hard_packets) or (lt.hard_bytes and c.bytes >= lt.hard_bytes):
            self.dead = True
            events.append(Event.HARD_LIFETIME)
        return events

    def check_update(self, new: "SecurityAssociation", *, key_known: bool = True) -> None:
        """ValueError naming the first `FIXED` field `new` changes (that is a new SA). Without
        `key_known` (an SA read back from hardware, whose key reads as zeros) only the key's
        length is compared."""
        for name in FIXED:
            old_value, new_value = getattr(self, name), getattr(new, name)
            if name == "key" and not key_known:
                old_value, new_value = len(old_value), len(new_value)
            if old_value != new_value:
                word = name.removesuffix("_bits")  # as the configuration names it
                raise ValueError(f"{word}: an update cannot change it; that is a new SA "
                                 f"(a rekey: add the new SA, then delete this one)")

    def update_from(self, new: "SecurityAssociation") -> None:
        """Take `new`'s `MUTABLE` fields (after `check_update`), keeping key, sequence number,
        replay window, counters and expiry flags."""
        self.check_update(new)
        for name in MUTABLE:
            setattr(self, name, getattr(new, name))
        self.src_bytes, self.dst_bytes = new.src_bytes, new.dst_bytes

    def zeroize(self) -> None:
        """Forget the key material (on delete)."""
        self.key = bytes(len(self.key))
        self.aead = None
        self.dead = True


class SaDatabase:
    """SAs by (direction, SPI): add, update, delete, flush."""

    def __init__(self):
        self._sas: dict[tuple[str, int], SecurityAssociation] = {}

    def add(self, sa: SecurityAssociation) -> None:
        if (sa.dir, sa.spi) in self._sas:
            raise ValueError(f"spi: {sa.spi:#x} ({sa.dir}) already exists")
        self._sas[sa.dir, sa.spi] = sa

    def update(self, sa: SecurityAssociation) -> SecurityAssociation:
        """Rewrite the SA with `sa`'s (dir, SPI) in place (`SecurityAssociation.update_from`); the SA."""
        old = self.get(sa.dir, sa.spi)
        if old is None:
            raise KeyError(f"spi: {sa.spi:#x} ({sa.dir}) does not exist")
        old.update_from(sa)
        return old

    def delete(self, dir: str, spi: int) -> None:
        sa = self._sas.pop((dir, spi), None)
        if sa is None:
            raise KeyError(f"spi: {spi:#x} ({dir}) does not exist")
        sa.zeroize()

    def flush(self) -> None:
        for sa in self._sas.values():
            sa.zeroize()
        self._sas.clear()

    def get(self, dir: str, spi: int) -> SecurityAssociation | None:
        return self._sas.get((dir, spi))

    def __iter__(self):
        return iter(self._sas.values())

    def __len__(self):
        return len(self._sas)
