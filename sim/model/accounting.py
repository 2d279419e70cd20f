"""Drop reasons and global counters: every frame in is forwarded, punted or dropped for a reason.

The identity the counters prove (docs/invariants.md §3):
    rx_plain + rx_cipher + rx_host == tx_plain + tx_cipher + punted + sum(drops)
ICMP answers to too-big frames consumed no input: counted `icmp_sent`, not `tx_plain`.
"""

from collections import Counter
from enum import Enum


class Reason(Enum):
    MALFORMED = "malformed"  # runt, bad IPv4 header, truncated or misaligned ESP, double VLAN tag
    POLICY = "policy"  # discarded by policy, cleartext that must be protected, inner/selector mismatch
    NO_SA = "no-sa"  # unknown SPI, or protect policy naming a missing SA
    SA_EXPIRED = "sa-expired"  # hard lifetime reached or sequence numbers exhausted
    REPLAY = "replay"  # duplicate or older than the window (RFC 4303 §3.4.3)
    AUTH_FAIL = "auth-fail"  # ICV did not verify
    BAD_PAD = "bad-pad"  # pad length or pad bytes wrong (RFC 4303 §2.4)
    DUMMY = "dummy"  # next header 59, a TFC dummy packet (RFC 4303 §2.6)
    KEEPALIVE = "keepalive"  # NAT-keepalive absorbed (RFC 3948 §2.3)
    TOO_BIG = "too-big"  # protected packet would exceed the ciphertext side's MTU


class Drop(Exception):
    def __init__(self, reason: Reason):
        super().__init__(reason.value)
        self.reason = reason


class GlobalCounters:
    def __init__(self):
        self.rx_plain = self.rx_cipher = self.rx_host = 0
        self.tx_plain = self.tx_cipher = self.punted = 0
        self.drops: Counter[Reason] = Counter()
        # punted frames the gateware's full host queue lost (within `punted`, not a drop); the
        # model has no queue and never loses one (docs/model.md, Counters)
        self.punt_dropped = 0
        # frames and decisions the gateware dropped because they did not pair up: a fault the
        # model cannot have, so always 0 here (docs/invariants.md §6)
        self.desync = 0
        # ICMP "fragmentation needed" answers to too-big drops (docs/model.md): generated frames that
        # consumed no input, so outside the identity (not in tx_plain); and answers the rate limit
        # suppressed. `icmp_lost`: answers the gateware's full ICMP queue lost (within icmp_sent),
        # always 0 here
        self.icmp_sent = self.icmp_limited = self.icmp_lost = 0

    @property
    def received(self) -> int:
        return self.rx_plain + self.rx_cipher + self.rx_host

    @property
    def accounted(self) -> int:
        return self.tx_plain + self.tx_cipher + self.punted + sum(self.drops.values())

    def as_dict(self) -> dict[str, int]:
        d = {k: getattr(self, k) for k in ("rx_plain", "rx_cipher", "rx_host", "tx_plain", "tx_cipher", "punted")}
        d.update({f"drop_{r.value}": self.drops[r] for r in Reason})
        d["drop_desync"], d["punt_dropped"] = self.desync, self.punt_dropped
        d.update(icmp_sent=self.icmp_sent, icmp_limited=self.icmp_limited, icmp_lost=self.icmp_lost)
        return d


def frames_accounted(counters: dict[str, int]) -> bool:
    """The identity above, on global counters as `as_dict` or the driver's `global_counters` name them.
    The ICMP answers (`icmp_*`) are generated frames, outside it (docs/invariants.md §3)."""
    received = counters["rx_plain"] + counters["rx_cipher"] + counters["rx_host"]
    return received == counters["tx_plain"] + counters["tx_cipher"] + counters["punted"] + sum(
        v for k, v in counters.items() if k.startswith("drop_"))
