"""Child SAs into the appliance's tables through the driver (`espline.host.driver.Espline`):
an inbound and an outbound SA, and per pair of traffic selectors an inbound and an outbound
protect policy (RFC 4301 §4.4.1), at priority `PRIORITY`.

Make-before-break (RFC 7296 §2.8, RFC 4301 §4.4.2.1): a rekey's new inbound SA and policies go
in beside the old ones (overlapping inbound protect policies of different SAs are allowed for
this, docs/config.md); the outbound switch puts the new outbound policies one priority ahead of
the old ones, deletes the old ones, and moves the new ones back to `PRIORITY` (added there,
then the copies ahead deleted): at every step each outbound packet matches a policy of the old
or the new SA, never none. Only then is the old outbound SA deleted.
"""

import copy
import ipaddress
import os

from espline.config import Lifetime, NatT, Policy, SecurityAssociation, Selector
from espline.host.driver import EVENTS

PRIORITY = 1000  # the IKE daemon's policies; a configuration's own policies may go ahead of them


def prefixes(start: int, end: int) -> list[str]:
    """An address range as the fewest prefixes (the appliance's selectors are prefixes)."""
    return [str(n) for n in ipaddress.summarize_address_range(ipaddress.IPv4Address(start),
                                                              ipaddress.IPv4Address(end))]


def selectors(child) -> list[tuple[Selector, Selector]]:
    """(outbound, inbound) selectors for each pair of the child's local and remote traffic
    selectors (`espline.host.ike.message.TrafficSelector`) whose protocols agree."""
    out = []
    for local in child.local_ts:
        for remote in child.remote_ts:
            if local.protocol and remote.protocol and local.protocol != remote.protocol:
                continue
            proto = local.protocol or remote.protocol or None
            lp, rp = (local.start_port, local.end_port), (remote.start_port, remote.end_port)
            for src in prefixes(local.start_addr, local.end_addr):
                for dst in prefixes(remote.start_addr, remote.end_addr):
                    out.append((Selector(src, dst, proto, lp, rp), Selector(dst, src, proto, rp, lp)))
    return out


class DriverInstaller:
    """The tables of one appliance, through a driver (`Espline`, or anything with its methods)."""

    def __init__(self, dev, priority: int = PRIORITY):
        self.dev, self.priority = dev, priority
        self.reserved: set[int] = set()

    def allocate_spi(self) -> int:
        """A fresh inbound SPI (256 and up, RFC 4303 §2.1) that finds a slot in the SA table's SPI
        index as it stands (docs/sa-table.md), so that the SA's commit will not be refused."""
        taken = {sa.spi for sa in self.dev.sas if sa is not None and sa.dir == "in"} | self.reserved
        free = [i for i, sa in enumerate(self.dev.sas) if sa is None]
        for _ in range(1000):
            spi = int.from_bytes(os.urandom(4), "big")
            if spi < 256 or spi in taken or not free:
                continue
            if copy.deepcopy(self.dev.spis).insert(spi, free[min(len(self.reserved), len(free) - 1)]):
                self.reserved.add(spi)
                return spi
        raise RuntimeError("no inbound SPI fits the SA table (it is full)")

    def release_spi(self, spi: int) -> None:
        self.reserved.discard(spi)

    def _sa(self, child, direction: str) -> SecurityAssociation:
        inbound = direction == "in"
        encap = None
        if child.encap is not None:
            local, remote = child.encap
            encap = NatT(remote, local) if inbound else NatT(local, remote)
        return SecurityAssociation(
            spi=child.spi_in if inbound else child.spi_out, dir=direction,
            src=child.remote_addr if inbound else child.local_addr,
            dst=child.local_addr if inbound else child.remote_addr, mode="tunnel",
            key=child.key_in if inbound else child.key_out, esn=child.esn,
            replay_window=min(128, self.dev.build.window), encap=encap,
            lifetime=Lifetime(child.rekey_packets, child.life_packets, child.rekey_bytes, child.life_bytes))

    def _policies(self, child, direction: str, priority: int) -> list[Policy]:
        spi = child.spi_in if direction == "in" else child.spi_out
        return [Policy(direction, out_sel if direction == "out" else in_sel, "protect", spi, priority)
                for out_sel, in_sel in selectors(child)]

    def _delete_policies(self, policies: list[Policy]) -> None:
        for p in policies:
            if p in self.dev.policies:
                self.dev.delete_policy(self.dev.policies.index(p))

    def install_inbound(self, child) -> None:
        self.dev.add_sa(self._sa(child, "in"))
        self.release_spi(child.spi_in)
        for p in self._policies(child, "in", self.priority):
            self.dev.add_policy(p)

    def install_outbound(self, child, replacing=None) -> None:
        """The child's outbound SA and policies; with `replacing`, traffic moves from that child's
        outbound SA to this one without a gap (above), and the old outbound SA is deleted."""
        self.dev.add_sa(self._sa(child, "out"))
        if replacing is None:
            for p in self._policies(child, "out", self.priority):
                self.dev.add_policy(p)
            return
        ahead = self._policies(child, "out", self.priority - 1)
        for p in ahead:
            self.dev.add_policy(p)
        self._delete_policies(self._policies(replacing, "out", self.priority))
        for p in self._policies(child, "out", self.priority):
            self.dev.add_policy(p)
        self._delete_policies(ahead)
        self.dev.delete_sa("out", replacing.spi_out)

    def update_encap(self, child) -> None:
        """The child's SAs with its new UDP ports (the peer's NAT mapping moved, RFC 3948 §2.2):
        an SA update (`Espline.update_sa`), atomic in the appliance, keys and counters kept."""
        for direction in ("in", "out") if child.outbound else ("in",):
            self.dev.update_sa(self._sa(child, direction))

    def remove_inbound(self, child) -> None:
        self._delete_policies(self._policies(child, "in", self.priority))
        if any(sa is not None and (sa.dir, sa.spi) == ("in", child.spi_in) for sa in self.dev.sas):
            self.dev.delete_sa("in", child.spi_in)

    def remove_outbound(self, child) -> None:
        """The child's outbound policies (also the copies a switch puts ahead) and SA, those there are."""
        self._delete_policies(self._policies(child, "out", self.priority)
                              + self._policies(child, "out", self.priority - 1))
        if any(sa is not None and (sa.dir, sa.spi) == ("out", child.spi_out) for sa in self.dev.sas):
            self.dev.delete_sa("out", child.spi_out)

    def events(self) -> list[tuple[str, str, int]]:
        """The appliance's events since the last call: (kind, SA direction, SPI), the kind as
        `espline.config.Event` names it (`soft-lifetime`, ...) or, for the others, as the register
        map does (`auth_fail_threshold`, ...)."""
        out = []
        while (event := self.dev.poll_event()) is not None:
            kind, index = event
            sa = self.dev.sas[index] if 0 <= index < len(self.dev.sas) else None
            if sa is not None:
                out.append((EVENTS[kind].value if kind in EVENTS else kind, sa.dir, sa.spi))
        return out
