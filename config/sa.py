"""A security association as configured (RFC 4301 §4.4.2): what the host writes, not what the
datapath keeps counting (`espline.sim.model.sa` adds that).

An SA is unidirectional: `dir="out"` encapsulates, `dir="in"` decapsulates. The constructor
refuses any field that is wrong on its own (docs/config.md, "Rules"); what depends on the
other entries or on the hardware is `espline.config.validation`.

Never two frames under one (key, nonce): the GCM IV is the sequence number (RFC 4106 §3), so
an SA's key and salt go with its sequence counter and replay window for its whole life. An
update (Linux's `xfrm_state_update`) may change only the fields in `MUTABLE`; a change of one
in `FIXED` is a new SA (a rekey, RFC 4301 §4.4.2.1).
"""

import ipaddress
from dataclasses import dataclass
from enum import Enum

AEAD_NAME = "rfc4106(gcm(aes))"
KEYMAT_LENGTHS = (20, 36)  # bytes of AES-128 or AES-256 key ‖ 4-byte salt (RFC 4106 §8.1)
ICV_BITS = (64, 96, 128)  # RFC 4106 §6

#: What an update may change: outer addresses, TTL, DF, NAT-T encapsulation, lifetimes. The
#: replay window's size is fixed: grown, it would reach back to packets it no longer remembers.
MUTABLE = ("src", "dst", "ttl", "df", "encap", "lifetime")
#: What identifies an SA or goes with its sequence counter; an update that changes one is refused.
#: The starting numbers are a new SA's: an update keeps the SA's sequence number and window.
FIXED = ("spi", "dir", "key", "mode", "esn", "icv_bits", "replay_window", "replay_oseq", "replay_seq")


class Event(Enum):
    """What an SA raises when a lifetime runs out (RFC 4301 §4.4.2.1) or its sequence numbers do."""
    SOFT_LIFETIME = "soft-lifetime"
    HARD_LIFETIME = "hard-lifetime"
    SEQ_EXHAUSTED = "seq-exhausted"


@dataclass(frozen=True)
class Lifetime:
    """Soft and hard limits on protected packets and bytes; 0 means no limit."""
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
    replay_oseq: int = 0  # out: the last sequence number sent; the first packet carries replay_oseq + 1
    replay_seq: int = 0  # in: the replay window's top; every number up to it counts as received

    @property
    def seq_max(self) -> int:
        """The last sequence number (RFC 4303 §3.3.3; 64-bit with ESN, RFC 4304)."""
        return (1 << 64) - 1 if self.esn else (1 << 32) - 1

    @property
    def start(self) -> int:
        """The starting number of the SA's direction (replay_oseq out, replay_seq in)."""
        return self.replay_oseq if self.dir == "out" else self.replay_seq

    def __post_init__(self):
        if not 1 <= self.spi <= 0xFFFFFFFF:
            raise ValueError(f"spi: {self.spi:#x} is not 1..0xffffffff (0 is never an SPI, RFC 4303 §2.1)")
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
        if len(self.key) not in KEYMAT_LENGTHS:
            raise ValueError(f"key: {AEAD_NAME} key material is 20 or 36 bytes (key ‖ salt), got {len(self.key)}")
        if self.icv_bits not in ICV_BITS:
            raise ValueError(f"icv: {self.icv_bits} bits is not one of 64, 96, 128")
        if self.replay_window < 1:
            raise ValueError(f"replay_window: {self.replay_window} is not at least 1")
        self._check_start()

    def _check_start(self) -> None:
        """An SA's starting number (docs/config.md, "Starting sequence numbers"): the one of its
        direction, leaving a next number (sequence numbers never wrap, RFC 4303 §3.3.3); the
        other direction's stays 0."""
        own, other = ("replay_oseq", "replay_seq") if self.dir == "out" else ("replay_seq", "replay_oseq")
        if getattr(self, other):
            raise ValueError(f"{other}: an {'outbound' if self.dir == 'out' else 'inbound'} SA has none "
                             f"(its starting number is {own})")
        value, last = getattr(self, own), self.seq_max - 1
        if not 0 <= value <= last:
            raise ValueError(f"{own}: {value} is not 0..{last}: sequence numbers never wrap (RFC 4303 §3.3.3), "
                             f"so the next one, {own} + 1, is at most {self.seq_max}"
                             f"{'' if self.esn else ' without esn'}")

    @property
    def notices(self) -> list[str]:
        """What is accepted but worth a warning (`espline.config.validation.warn`): an SPI of
        1..255, which RFC 4303 §2.1 reserves to IANA for future use, taken for manual keying as
        Linux takes it (DPDK's ipsec-secgw sample configuration uses SPIs 5 and 6)."""
        if self.spi <= 255:
            return [f"spi: {self.spi:#x} is in 1..255, reserved by IANA for future use (RFC 4303 §2.1); "
                    f"accepted for manual keying, as Linux accepts it: no IKE peer chooses it"]
        return []

    def check_update(self, new: "SecurityAssociation", *, key_known: bool = True) -> None:
        """ValueError naming the first `FIXED` field `new` changes (that is a new SA). Without
        `key_known` (an SA read back from hardware, whose key reads as zeros) only the key's
        length is compared."""
        for name in FIXED:
            old_value, new_value = getattr(self, name), getattr(new, name)
            if name == "key" and not key_known:
                old_value, new_value = len(old_value), len(new_value)
            if old_value != new_value and name in ("replay_oseq", "replay_seq"):
                raise ValueError(f"{name}: an update keeps the SA's sequence numbers and replay window "
                                 f"(never two packets under one key and nonce); a new starting number is a new SA")
            if old_value != new_value:
                word = name.removesuffix("_bits")  # as the configuration names it
                raise ValueError(f"{word}: an update cannot change it; that is a new SA "
                                 f"(a rekey: add the new SA, then delete this one)")
