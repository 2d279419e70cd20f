"""Security associations at work, and the SA database (RFC 4301 §4.4.2).

The configured part of an SA (`espline.config.SecurityAssociation`: SPI, direction, addresses,
key, lifetimes...) is the configuration's; the model adds what the datapath keeps: an outbound
SA's sequence counter, an inbound SA's replay window, the counters and expiry flags. Lifetimes
count the packets and bytes of protected payload (the inner IP packet in tunnel mode, the
upper-layer payload in transport mode); soft expiry raises an event, hard expiry stops the SA
(RFC 4301 §4.4.2.1).

An update (`SaDatabase.update`, as Linux's `xfrm_state_update`) rewrites only the configured
fields in `MUTABLE` and keeps the rest and the state; a new key is a new SA.
"""

import ipaddress
from dataclasses import dataclass, field, fields

from espline import config
from espline.config.sa import MUTABLE, Event

from .aead import EspGcm
from .replay import ReplayWindow


@dataclass
class SaCounters:
    packets: int = 0
    bytes: int = 0
    auth_fail: int = 0
    replay: int = 0


@dataclass
class SecurityAssociation(config.SecurityAssociation):
    seq: int = field(init=False)  # last sequence number sent (dir out): from replay_oseq
    counters: SaCounters = field(default_factory=SaCounters)
    soft_expired: bool = False
    dead: bool = False  # hard lifetime reached or sequence numbers exhausted

    def __post_init__(self):
        super().__post_init__()
        self.aead = EspGcm(self.key, self.icv_bits // 8)
        self.seq = self.replay_oseq
        self.window = ReplayWindow(self.replay_window, self.esn, top=self.replay_seq)
        self._pack_addresses()

    @classmethod
    def from_config(cls, sa: config.SecurityAssociation) -> "SecurityAssociation":
        """A new SA with `sa`'s configured fields: its sequence number from replay_oseq, its
        window's top replay_seq (docs/config.md), its counters from zero."""
        return cls(**{f.name: getattr(sa, f.name) for f in fields(config.SecurityAssociation)})

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

    def update_from(self, new: config.SecurityAssociation) -> None:
        """Take `new`'s `MUTABLE` fields (after `check_update`), keeping key, sequence number,
        replay window, counters and expiry flags."""
        self.check_update(new)
        for name in MUTABLE:
            setattr(self, name, getattr(new, name))
        self._pack_addresses()

    def _pack_addresses(self) -> None:
        """The outer addresses as the encapsulation writes them."""
        self.src_bytes = ipaddress.IPv4Address(self.src).packed
        self.dst_bytes = ipaddress.IPv4Address(self.dst).packed

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

    def update(self, sa: config.SecurityAssociation) -> SecurityAssociation:
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
