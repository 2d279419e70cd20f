"""The `[appliance]` table of the configuration (docs/config.md): what the appliance does with
traffic no policy names, and the ciphertext side's MTU."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    default_policy: str = "discard"  # IPv4 matching no policy: discard | bypass
    ipv6: str = "discard"  # IPv6 frames (not protected): discard | bypass
    mtu: int = 9000  # largest protected IPv4 packet sent on the ciphertext side

    def __post_init__(self):
        for name in ("default_policy", "ipv6"):
            if getattr(self, name) not in ("bypass", "discard"):
                raise ValueError(f"{name}: {getattr(self, name)!r} is not 'bypass' or 'discard'")
        if not 576 <= self.mtu <= 65535:
            raise ValueError(f"mtu: {self.mtu} is not 576..65535")
