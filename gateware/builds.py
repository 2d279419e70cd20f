"""Named builds of the appliance: one description each, which the synthesis flow (`espline.hw`),
the board tops and the benches all instantiate, so what is measured is what is simulated.

A build fixes the GCM engine, the packet bus width, the register map's build parameters
(`N_SA`, `N_POLICY`, `WINDOW`, `MAX_FRAME`: the limits the driver reads back from the CAP_*
registers and the reference model is configured with) and the appliance's sizes (packet
buffers, host queue) and options (`mtu`). docs/synth.md measures them.
"""

from dataclasses import dataclass

from espline import regmap as _regmap

__all__ = ["ApplianceBuild", "BUILDS", "GIGABIT", "GIGABIT_JUMBO"]


@dataclass(frozen=True)
class ApplianceBuild:
    config: str  # the GCM engine: "compact" or "wide" (docs/gcm.md)
    width: int  # packet bus bytes per beat
    n_sa: int
    n_policy: int
    window: int  # the largest replay window, bits
    max_frame: int  # the longest frame decided (docs/frames.md)
    mtu: int  # the largest protected IPv4 packet sent (docs/config.md)
    store: int  # bytes of each packet buffer (two intakes, the verified buffer)
    host_queue: int = 4096  # bytes of punted frames queued for the host
    ghash_digit: int = 16  # compact engines: GHASH bits a cycle (docs/gcm.md; 11 keeps AES-256's rate only)

    @property
    def params(self) -> dict:
        """The register map's build parameters."""
        return {"N_SA": self.n_sa, "N_POLICY": self.n_policy, "WINDOW": self.window, "MAX_FRAME": self.max_frame}

    @property
    def limits(self) -> dict:
        """The hardware's limits as `espline.config.Build` takes them (`Build(**build.limits)`)."""
        return {"n_sa": self.n_sa, "n_policy": self.n_policy, "window": self.window, "max_frame": self.max_frame}

    def regmap(self):
        return _regmap.compile(**self.params)

    def appliance(self, **options):
        """The `espline.gateware.appliance.Appliance` of this build; `options`: `default_policy`, `ipv6`."""
        from .appliance import Appliance
        return Appliance(self.config, ghash_digit=self.ghash_digit, regmap=self.regmap(), width=self.width,
                         mtu=self.mtu, store=self.store, host_queue=self.host_queue, **options)


#: Two 1 GbE ports (docs/synth.md, "The gigabit build"): compact engines with the GHASH digit 11
#: (AES-256 8.93 bit/cycle, AES-128 bound by the GHASH at 9.6 bit/cycle: 1.12 / 1.2 Gbit/s at
#: 125 MHz, docs/gcm.md), 16 SAs, 8 policies, a 128-bit window,
#: MTU 1500 (frames up to 1536 bytes: 1500 + Ethernet, 802.1Q and room to spare), 4 KiB stores
#: (two longest frames).
GIGABIT = ApplianceBuild(config="compact", width=4, n_sa=16, n_policy=8, window=128, max_frame=1536, mtu=1500,
                         store=4096, ghash_digit=11)
#: The same with jumbo frames: MTU 9000, frames up to 9216 bytes, 16 KiB stores.
GIGABIT_JUMBO = ApplianceBuild(config="compact", width=4, n_sa=16, n_policy=8, window=128, max_frame=9216,
                               mtu=9000, store=16384, ghash_digit=11)

BUILDS = {"gigabit": GIGABIT, "gigabit-jumbo": GIGABIT_JUMBO}
