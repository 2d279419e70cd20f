"""Two `espline ike` daemons in one process, each in front of a reference-model appliance.

`ModelDevice` gives the driver's table methods (what `DriverInstaller` uses) on the reference
model (`espline.sim.model.Appliance`), held to the configuration's one validation as the driver
is; `Sites` wires two of them: a daemon's frame goes into its appliance's host port, out of its
ciphertext port, into the other appliance's ciphertext port and, if punted, to the other
daemon. Child SAs are then checked by sending LAN packets through both appliances.
"""

import copy
import random

from espline.config import Build, ConfigError, parse
from espline.config.validation import check_new_sa, check_policy
from espline.host.ike.daemon import Daemon
from espline.host.ike.installer import DriverInstaller
from espline.regmap.spi_index import SpiIndex
from espline.sim.model import Appliance, Port
from espline.sim.model import SecurityAssociation as ModelSa
from espline.sim.traffic import ethernet, ip_packet

BUILD = Build(n_sa=64, n_policy=16)
ADDRS = {"a": "192.0.2.1", "b": "198.51.100.2"}
LANS = {"a": "10.1.0.0/16", "b": "10.2.0.0/16"}
HOSTS = {"a": "10.1.0.1", "b": "10.2.0.1"}


class ModelDevice:
    """The driver's table interface over the reference model."""

    def __init__(self, build: Build = BUILD):
        self.build = build
        self.model = Appliance()
        self.sas = [None] * build.n_sa
        self.spis = SpiIndex(build.n_sa)
        self.policies = []
        self.writes = []  # ("add_sa", dir, spi) ... in order: what the tables saw

    def add_sa(self, sa) -> int:
        free = [i for i, s in enumerate(self.sas) if s is None]
        index = free[0] if sa.dir == "in" else free[-1]
        spis = copy.deepcopy(self.spis)
        check_new_sa(sa, [s for s in self.sas if s], self.build, spis, index)
        self.spis, self.sas[index] = spis, sa
        self.model.sad.add(ModelSa.from_config(sa))
        self.writes.append(("add_sa", sa.dir, sa.spi))
        return index

    def delete_sa(self, dir: str, spi: int) -> None:
        if any(p.spi == spi and p.dir == dir for p in self.policies):
            raise ConfigError(f"spi: {spi:#x} ({dir}) is used by a protect policy; delete that first")
        index = next(i for i, s in enumerate(self.sas) if s is not None and (s.dir, s.spi) == (dir, spi))
        if dir == "in":
            self.spis.remove(spi, index)
        self.sas[index] = None
        self.model.sad.delete(dir, spi)
        self.writes.append(("delete_sa", dir, spi))

    def update_sa(self, sa) -> None:
        index = next(i for i, s in enumerate(self.sas) if s is not None and (s.dir, s.spi) == (sa.dir, sa.spi))
        self.sas[index].check_update(sa)
        self.sas[index] = sa
        self.model.sad.update(sa)
        self.writes.append(("update_sa", sa.dir, sa.spi))

    def add_policy(self, policy) -> int:
        check_policy(policy, [s for s in self.sas if s], self.policies, self.build)
        index = sum(p.priority <= policy.priority for p in self.policies)
        self.policies.insert(index, policy)
        self.model.spd.add(policy)
        self.writes.append(("add_policy", policy.dir, policy.spi, policy.priority))
        return index

    def delete_policy(self, index: int) -> None:
        policy = self.policies.pop(index)
        self.model.spd.remove(policy)
        self.writes.append(("delete_policy", policy.dir, policy.spi, policy.priority))

    def poll_event(self):
        """As the driver's: the register map's name of the event (`soft_lifetime`) and the SA's index."""
        if not self.model.events:
            return None
        event, sa = self.model.events.pop(0)
        index = next(i for i, s in enumerate(self.sas) if s is not None and (s.dir, s.spi) == (sa.dir, sa.spi))
        return event.name.lower(), index


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class SiteLink:
    """A daemon's host port: what it sends goes through both appliances to the other daemon."""

    def __init__(self, sites: "Sites", me: str):
        self.sites, self.me = sites, me
        self.inbox = []
        self.drop = None  # a function of the frame: lose it on the WAN
        self.wire = []  # every frame this side put on the WAN

    def send(self, frame: bytes) -> None:
        other = "b" if self.me == "a" else "a"
        out = self.sites.devices[self.me].model.process(Port.HOST, frame)
        assert out.port is Port.CIPHER, out
        self.wire.append(out.frame)
        if self.drop is not None and self.drop(out.frame):
            return
        inbound = self.sites.devices[other].model.process(Port.CIPHER, out.frame)
        if inbound.port is Port.HOST:
            self.sites.links[other].inbox.append(inbound.frame)

    def receive(self, timeout: float = 0):
        return self.inbox.pop(0) if self.inbox else None


def connection(me: str, psk: str = "secret-ab", esp: str = "aes128gcm16-esn", ike: str = "aes128gcm16-prfsha256-"
               "curve25519", **extra) -> dict:
    other = "b" if me == "a" else "a"
    child = {"local_ts": [LANS[me]], "remote_ts": [LANS[other]], "esp_proposals": [esp], "rekey_time": "1h"}
    child.update(extra.pop("child", {}))
    conn = {"local_addrs": [ADDRS[me]], "remote_addrs": [ADDRS[other]], "proposals": [ike],
            "local": {"id": f"site-{me}.example"}, "remote": {"id": f"site-{other}.example"},
            "children": {"net": child}, "rekey_time": "4h", **extra}
    return {"ike": {"connections": {"site": conn},
                    "secrets": {"ike-ab": {"id": [f"site-{me}.example", f"site-{other}.example"], "secret": psk}}}}


class Sites:
    def __init__(self, config_a: dict | None = None, config_b: dict | None = None, build_b: Build = BUILD):
        self.clock = Clock()
        self.devices = {"a": ModelDevice(), "b": ModelDevice(build_b)}
        self.links = {s: SiteLink(self, s) for s in "ab"}
        configs = {"a": config_a or connection("a"), "b": config_b or connection("b")}
        self.daemons = {s: Daemon(parse(configs[s]).ike, self.links[s], DriverInstaller(self.devices[s]), self.clock,
                                  random.Random(s)) for s in "ab"}

    def pump(self, limit: int = 1000) -> int:
        """Deliver frames until none is left; how many were delivered."""
        n = 0
        while any(link.inbox for link in self.links.values()):
            for s in "ab":
                while (frame := self.links[s].receive()) is not None:
                    self.daemons[s].receive(frame)
                    n += 1
            assert n < limit, "the daemons did not settle"
        return n

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Let time pass, the daemons' timers running and frames delivered."""
        end = self.clock.t + seconds
        while self.clock.t < end:
            self.clock.t = min(end, self.clock.t + step)
            for d in self.daemons.values():
                d.tick()
            self.pump()

    def children(self, s: str):
        return [c for sa in self.daemons[s].sas.values() if sa.state == "established" for c in sa.children]

    def send(self, src: str, seed: int = 0, size: int = 200) -> bytes | None:
        """A LAN packet from site `src`'s host to the other's, through both appliances: the frame
        that leaves the other appliance's plaintext port (None if dropped)."""
        dst = "b" if src == "a" else "a"
        frame = ethernet(ip_packet(size, HOSTS[src], HOSTS[dst], seed=seed))
        out = self.devices[src].model.process(Port.PLAIN, frame)
        if out.port is not Port.CIPHER:
            return None
        back = self.devices[dst].model.process(Port.CIPHER, out.frame)
        return back.frame if back.port is Port.PLAIN else None

    def traffic_flows(self, seed: int = 0) -> bool:
        """Whether a packet each way arrives unchanged."""
        ok = True
        for s in "ab":
            dst = "b" if s == "a" else "a"
            frame = ethernet(ip_packet(200, HOSTS[s], HOSTS[dst], seed=seed))
            ok &= self.send(s, seed) == frame
        return ok

