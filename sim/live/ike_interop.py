"""`make ike-interop`: IKEv2 between two sites, each espline or strongSwan, with real Linux hosts.

    LAN-A host ──veth── site A ──veth── WAN (bridge br0) ──veth── site B ──veth── LAN-B host
    10.1.0.1/16         192.0.2.1       tcpdump (IKE)             198.51.100.2     10.2.0.1/16

The namespaces are `make live`'s (:class:`espline.sim.live.topology.Topology`). A strongSwan site
is a gateway (charon with kernel-libipsec, :mod:`espline.sim.live.strongswan`) that routes its
LAN (10.x.0.254) and answers ARP for it on the WAN (proxy ARP: a bump-in-the-wire peer's hosts
reach the other LAN on-link). For each pair of sites it runs, and checks:

* set-up with each side initiating (IKE_SA_INIT, IKE_AUTH): the time to an installed Child SA;
  ping and a TCP transfer (SHA-256 checked) between the LAN hosts;
* Child SA rekey by each side under traffic: a TCP transfer and a paced UDP stream each way run
  across the rekey; lost datagrams are counted (by sequence number), TCP retransmissions too;
  then an IKE SA rekey;
* DELETE: the initiator closes the IKE SA; both sides hold no SA and the LANs no longer reach
  each other;
* dead-peer detection: one side's IKE daemon is killed (SIGKILL); the other's liveness checks
  find it dead and clear the SAs (the time it took);
* a wrong pre-shared key, each side initiating: refused on both sides, no SA anywhere;
* for an espline site, a Child SA rekey that nobody asks for: its appliance's outbound SA reaches
  the soft packet limit (`rekey_packets`) under traffic, and the event must make the daemon rekey.

Wireshark (tshark, where installed) must find every IKE message on the WAN well-formed.
It prints charon's own log lines for what was established, rekeyed, deleted and refused, writes
the WAN's IKE exchanges (`ike.pcap`), the first frames of each run (`wan-head.pcap`) and the
charon logs (with keys) to `--out`, and the figures to `result.json`. Namespaces and processes
are removed on exit, also on failure. Needs root and strongSwan 5.9 (Debian: see
`strongswan.DEBIAN`).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from espline.host.driver import Espline
from espline.host.ike import control
from espline.host.transport.socket import SocketStream
from espline.host.transport.uart import UartTransport

from . import strongswan
from .device import build
from .topology import HOSTS, PYTHON, Topology, _stop, wait_for

WAN = {"a": "192.0.2.1", "b": "198.51.100.2"}
LAN = {"a": "10.1.0.0/16", "b": "10.2.0.0/16"}
GATEWAY = {"a": "10.1.0.254", "b": "10.2.0.254"}
OTHER = {"a": "b", "b": "a"}
NAMES = {"strongswan": "strongSwan", "espline": "espline ike"}
PSK = "espline-interop-psk-0123456789abcdef"
#: One proposal each way, as strongSwan writes them: IKE AES-GCM-16 / PRF HMAC-SHA2-256 / DH;
#: ESP AES-GCM-16 (with a DH group: a new key exchange on each Child SA rekey, PFS).
PROPOSALS = {
    "x25519": ("aes128gcm16-prfsha256-x25519", "aes128gcm16-x25519"),
    "ecp256": ("aes256gcm16-prfsha256-ecp256", "aes256gcm16"),
    "modp2048": ("aes128gcm16-prfsha256-modp2048", "aes128gcm16"),
    # 64-bit sequence numbers (RFC 4304): espline only, kernel-libipsec refuses ESN
    "esn": ("aes128gcm16-prfsha256-x25519", "aes256gcm16-esn"),
}
#: charon's log lines worth showing (its own words for SAs coming and going, and refusals).
SHOWN = re.compile(r"established|rekeyed|closing CHILD_SA|deleting IKE_SA|IKE_SA deleted|"
                   r"AUTHENTICATION_FAILED|MAC mismatched|authentication of .* failed|giving up|"
                   r"retransmit \d+ of request|DELETE for")


class StrongSwanSite:
    """Site `site` as a strongSwan gateway in the topology's namespace `app-<site>`."""

    kind = "strongswan"
    #: charon's lines that start and end a set-up as initiator
    SET_UP = (re.compile(r"initiating IKE_SA"), re.compile(r"CHILD_SA \S+ established"))

    def __init__(self, topo: Topology, site: str, folder: Path, proposals: tuple[str, str], dpd_delay: int):
        self.topo, self.site, self.proposals, self.dpd_delay = topo, site, proposals, dpd_delay
        self.charon = strongswan.Charon(topo.names[f"app-{site}"], folder)
        self.psk = PSK
        self.mark = 0  # the log's length at the start of a scenario

    def wire(self) -> None:
        """Addresses and routes: the tunnel end on the WAN, the LAN's gateway, proxy ARP for the LAN."""
        ns, other = f"app-{self.site}", OTHER[self.site]
        self.topo.ns(ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.topo.ns(ns, "sysctl", "-qw", "net.ipv4.conf.wan.proxy_arp=1")
        self.topo.ns(ns, "ip", "addr", "add", f"{WAN[self.site]}/32", "dev", "wan")
        self.topo.ns(ns, "ip", "route", "add", f"{WAN[other]}/32", "dev", "wan")
        self.topo.ns(ns, "ip", "addr", "add", f"{GATEWAY[self.site]}/16", "dev", "lan")
        self.topo.ns(f"lan-{self.site}", "ip", "route", "replace", LAN[other], "via", GATEWAY[self.site])

    def start(self) -> None:
        self.charon.start()
        self.load()

    def load(self) -> None:
        local, remote = WAN[self.site], WAN[OTHER[self.site]]
        conn = strongswan.connection(local, remote, LAN[self.site], LAN[OTHER[self.site]], ike=self.proposals[0],
                                     esp=self.proposals[1], dpd_delay=self.dpd_delay)
        self.charon.load("net", conn, self.psk, (local, remote))

    def set_psk(self, psk: str) -> None:
        self.psk = psk
        self.load()

    def stop(self) -> None:
        self.charon.stop()

    def kill(self) -> None:
        self.charon.kill()

    def initiate(self) -> None:
        self.charon.initiate("net")

    def rekey_child(self) -> None:
        self.charon.rekey(child="net")

    def rekey_ike(self) -> None:
        self.charon.rekey(ike="net")

    def terminate(self) -> None:
        self.charon.terminate(ike="net")

    def children(self) -> set[tuple[str, str]]:
        """The installed Child SAs as (inbound SPI, outbound SPI), hex."""
        return {(c["spi-in"], c["spi-out"]) for ike in self.charon.sas()
                for c in ike.get("child-sas", {}).values() if c["state"] == "INSTALLED"}

    def ike_sas(self) -> list[dict]:
        return [ike for ike in self.charon.sas() if ike["state"] == "ESTABLISHED"]

    def begin(self) -> None:
        self.mark = self.charon.log.stat().st_size if self.charon.log.exists() else 0

    def lines(self) -> list[str]:
        """charon's log lines since `begin`."""
        with self.charon.log.open(errors="replace") as f:
            f.seek(self.mark)
            return f.read().splitlines()

    def said(self) -> list[str]:
        """charon's log lines worth showing since `begin`."""
        return [line for line in self.lines() if SHOWN.search(line)]


IKE_TOML = """\
# espline ike at site {site}: the connection to site {other} (written by make ike-interop)
[ike]
local_mac = "{local_mac}"
retransmit_timeout = 1.0
retransmit_base = 1.4
retransmit_tries = 3

[ike.connections.net]
local_addrs = ["{local}"]
remote_addrs = ["{remote}"]
{remote_mac}proposals = ["{ike}"]
rekey_time = "0"
dpd_delay = "{dpd_delay}s"
encap = true
local = {{ id = "{local}", auth = "psk" }}
remote = {{ id = "{remote}", auth = "psk" }}

[ike.connections.net.children.net]
local_ts = ["{local_ts}"]
remote_ts = ["{remote_ts}"]
esp_proposals = ["{esp}"]
rekey_time = "1h"
rekey_packets = {rekey_packets}
start_action = "none"

[ike.secrets.net]
id = ["{local}", "{remote}"]
secret = "{psk}"
"""


class EsplineSite:
    """Site `site` as espline: the simulated appliance (`espline run`, the gateware in Verilator) in
    the namespace `app-<site>`, a bump in the wire between the LAN host and the WAN, with
    `espline ike` on its host port and management socket, driven through the daemon's control
    socket (`espline ikectl`'s requests) as swanctl drives charon."""

    kind = "espline"
    SET_UP = (re.compile(r"initiating to"), re.compile(r"CHILD_SA .* established"))

    def __init__(self, topo: Topology, site: str, folder: Path, proposals: tuple[str, str], dpd_delay: int):
        self.topo, self.site, self.folder, self.proposals, self.dpd_delay = topo, site, folder, proposals, dpd_delay
        self.mgmt, self.control = folder / "mgmt.sock", folder / "ike.ctl"
        self.psk = PSK
        self.remote_mac = None  # the next hop's MAC when the peer is a router (strongSwan)
        self.rekey_packets = 0  # the Child SAs' soft packet limit in the appliance (0: none)
        self.appliance = self.daemon = None
        self.log = folder / "ike.log"
        self.mark = 0

    def wire(self) -> None:
        """Nothing: the LAN host reaches the other LAN on-link, through the appliance (Topology's routes)."""

    def config_file(self) -> Path:
        other = OTHER[self.site]
        mac = f'remote_mac = "{self.remote_mac}"\n' if self.remote_mac else ""
        path = self.folder / "ike.toml"
        path.write_text(IKE_TOML.format(
            site=self.site.upper(), other=other.upper(), local_mac=f"02:00:00:00:00:0{1 + 'ab'.index(self.site)}",
            local=WAN[self.site], remote=WAN[other], remote_mac=mac, ike=self.proposals[0], esp=self.proposals[1],
            dpd_delay=self.dpd_delay, local_ts=LAN[self.site], remote_ts=LAN[other], psk=self.psk,
            rekey_packets=self.rekey_packets))
        return path

    def start(self) -> None:
        """A fresh appliance (no SA) and daemon."""
        self.stop()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.appliance = self.topo.spawn(f"app-{self.site}", *PYTHON, "espline.sim.cli", "run", "--plain", "lan",
                                         "--cipher", "wan", "--mgmt", str(self.mgmt),
                                         stdout=(self.folder / "appliance.log").open("a"), stderr=subprocess.STDOUT)
        wait_for(self.mgmt, self.appliance)
        self.load()

    def load(self) -> None:
        """(Re)start the daemon with the configuration as it stands."""
        if self.daemon:
            _stop(self.daemon)
        self.control.unlink(missing_ok=True)
        self.daemon = self.topo.spawn(f"app-{self.site}", *PYTHON, "espline.sim.cli", "ike", str(self.config_file()),
                                      "--transport", f"unix:{self.mgmt}", "--control", str(self.control),
                                      stdout=subprocess.DEVNULL, stderr=self.log.open("a"))
        wait_for(self.control, self.daemon, 30)

    def set_psk(self, psk: str) -> None:
        self.psk = psk
        self.load()

    def stop(self) -> None:
        for process in (self.daemon, self.appliance):
            if process:
                _stop(process)
        self.daemon = self.appliance = None

    def kill(self) -> None:
        self.daemon.kill()
        self.daemon.wait()

    def tables(self) -> dict:
        """The SAs and policies in the appliance's tables, read back over the management socket."""
        dev = Espline(UartTransport(SocketStream(f"unix:{self.mgmt}")))
        return {"sas": sum(sa is not None for sa in dev.sas), "policies": len(dev.policies)}

    def ask(self, line: str) -> list[str]:
        answer = control.request(str(self.control), line)
        if not answer or answer[-1] != "ok":
            raise RuntimeError(f"espline ike: {line}: {answer[-1] if answer else 'no answer'}")
        return answer[:-1]

    def initiate(self) -> None:
        self.ask("initiate net")
        if wait(lambda: not self.ike_sas(any_state=True) or self.children(), 15) is None:
            raise RuntimeError("espline ike: no Child SA after 15 s")
        if not self.children():
            raise RuntimeError("espline ike: the IKE SA failed (see its log)")

    def rekey_child(self) -> None:
        self.ask("rekey-child net")

    def rekey_ike(self) -> None:
        self.ask("rekey-ike net")

    def terminate(self) -> None:
        self.ask("terminate net")

    def children(self) -> set[tuple[str, str]]:
        """The Child SAs installed both ways, as (inbound SPI, outbound SPI)."""
        return {found.groups() for line in self.ask("list") if line.startswith("  CHILD_SA")
                and "outbound pending" not in line and (found := re.search(r"SPIs (\w+)_i (\w+)_o", line))}

    def ike_sas(self, any_state: bool = False) -> list[dict]:
        return [{"initiator-spi": found[2], "responder-spi": found[3]} for line in self.ask("list")
                if (found := re.match(r"IKE_SA \S+: (\w+) .* SPIs (\w+)_i (\w+)_r", line))
                and (any_state or found[1] == "established")]

    def begin(self) -> None:
        self.mark = self.log.stat().st_size if self.log.exists() else 0

    def lines(self) -> list[str]:
        with self.log.open(errors="replace") as f:
            f.seek(self.mark)
            return f.read().splitlines()

    def said(self) -> list[str]:
        return self.lines()


#: The kinds of site, by the name `--sites` gives them.
SITES = {"strongswan": StrongSwanSite, "espline": EsplineSite}


def logged_span(lines: list[str], start: re.Pattern, end: re.Pattern) -> float | None:
    """Seconds from the first line matching `start` to the next matching `end`, by the lines'
    own time stamps (HH:MM:SS.mmm, as both logs write them), or None."""
    def stamp(line: str) -> float | None:
        found = re.match(r"(\d\d):(\d\d):(\d\d)\.(\d{3})", line)
        return None if not found else (int(found[1]) * 60 + int(found[2])) * 60 + int(found[3]) + int(found[4]) / 1e3
    t0 = None
    for line in lines:
        if t0 is None and start.search(line):
            t0 = stamp(line)
        elif t0 is not None and end.search(line) and (t1 := stamp(line)) is not None:
            return round(t1 - t0, 3)
    return None


def wait(condition, seconds: float, step: float = 0.05) -> float | None:
    """Seconds until `condition()` held, or None if it never did within `seconds`."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if condition():
            return time.monotonic() - t0
        time.sleep(step)
    return None


class Run:
    """The scenarios on one pair of sites; each one's verdict and figures in `results`."""

    def __init__(self, topo: Topology, sites: dict, tcp_bytes: int, udp_rate: float):
        self.topo, self.sites, self.tcp_bytes, self.udp_rate = topo, sites, tcp_bytes, udp_rate
        self.results: list[dict] = []
        self.initiator = "a"  # of the SAs the scenarios act on

    def scenario(self, name: str, passed: bool, **figures) -> bool:
        said = {s: site.said() for s, site in self.sites.items()}
        self.results.append({"scenario": name, "passed": bool(passed), **figures})
        print(f"\n[{'PASS' if passed else 'FAIL'}] {name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
        for s, lines in said.items():
            for line in lines:
                print(f"    {NAMES[self.sites[s].kind]} site {s.upper()}: {line}")
        sys.stdout.flush()
        for site in self.sites.values():
            site.begin()
        return passed

    def ping(self, count: int = 10) -> int:
        out = self.topo.ns("lan-a", "ping", "-c", str(count), "-i", "0.1", "-W", "1", HOSTS["b"], check=False).stdout
        return int(re.search(r"(\d+) received", out)[1])

    def tcp(self) -> dict:
        return json.loads(self.topo.ns("lan-a", *PYTHON, "espline.sim.live.bulk", "send", HOSTS["b"], "5001",
                                       str(self.tcp_bytes)).stdout)

    def retransmits(self) -> int:
        out = self.topo.ns("lan-a", "nstat", "-asz", "TcpRetransSegs").stdout
        found = re.search(r"TcpRetransSegs\s+(\d+)", out)
        return int(found[1]) if found else 0

    def both_have_one_child(self) -> bool:
        a, b = self.sites["a"].children(), self.sites["b"].children()
        return len(a) == 1 and len(b) == 1 and {(i, o) for o, i in b} == a

    def nobody_has_sas(self) -> bool:
        return not any(site.children() or site.ike_sas() for site in self.sites.values())

    def establish(self, initiator: str) -> float | None:
        """Set-up from `initiator`; seconds until both sides have the Child SA, or None."""
        t0 = time.monotonic()
        try:
            self.sites[initiator].initiate()
        except RuntimeError as e:
            print(f"    initiate from {initiator.upper()}: {e}")
            return None
        done = wait(self.both_have_one_child, 10)
        return None if done is None else time.monotonic() - t0

    def of(self) -> str:
        return f" (SAs set up by {self.initiator.upper()})"

    def set_up(self, initiator: str) -> bool:
        self.initiator = initiator
        seconds = self.establish(initiator)
        logged = logged_span(self.sites[initiator].lines(), *self.sites[initiator].SET_UP)
        pings = self.ping() if seconds is not None else 0
        tcp = self.tcp() if pings else {"digest_ok": False}
        return self.scenario(f"{initiator.upper()} initiates: IKE_SA_INIT + IKE_AUTH, ping and TCP",
                             seconds is not None and pings == 10 and tcp["digest_ok"],
                             setup_s=round(seconds, 3) if seconds else None, setup_logged_s=logged, ping=f"{pings}/10",
                             tcp_digest_ok=tcp["digest_ok"], tcp_mbit_s=round(tcp.get("mbit_per_s", 0), 1))

    def rekey_under_traffic(self, rekeyer: str, seconds: float = 6.0, on_soft_limit: bool = False) -> bool:
        """A Child SA rekey by `rekeyer` a third into `seconds` of traffic: a TCP transfer spread
        over them and a paced UDP stream each way. `on_soft_limit`: nobody asks; the rekey must
        come from `rekeyer`'s appliance, its outbound SA reaching its soft packet limit."""
        before = self.sites["a"].children()
        n = int(self.udp_rate * seconds)
        bulk = ("espline.sim.live.bulk",)
        counters = {s: self.topo.spawn(f"lan-{s}", *PYTHON, *bulk, "gaps", "5003", "3", stdout=subprocess.PIPE)
                    for s in "ab"}
        time.sleep(0.5)
        retrans = self.retransmits()
        senders = {s: self.topo.spawn(f"lan-{s}", *PYTHON, *bulk, "pace", HOSTS[OTHER[s]], "5003", str(n),
                                      str(self.udp_rate), stdout=subprocess.PIPE) for s in "ab"}
        tcp = self.topo.spawn("lan-a", *PYTHON, *bulk, "send", HOSTS["b"], "5001", str(self.tcp_bytes),
                              str(seconds), stdout=subprocess.PIPE)
        started = time.monotonic()
        if not on_soft_limit:
            time.sleep(seconds / 3)
            self.sites[rekeyer].rekey_child()
        asked = time.monotonic()
        took = wait(lambda: self.both_have_one_child() and not (self.sites["a"].children() & before), 2 * seconds)
        rekeyed_at = time.monotonic()
        for p in senders.values():
            p.communicate(timeout=seconds * 3 + 30)
        got = {s: json.loads(p.communicate(timeout=60)[0]) for s, p in counters.items()}
        transfer = json.loads(tcp.communicate(timeout=600)[0])
        tcp_across = transfer["seconds"] > rekeyed_at - started  # the transfer outlived the rekey
        lost = {f"{OTHER[s].upper()}->{s.upper()}": n - got[s]["distinct"] for s in "ab"}
        after = self.sites["a"].children()
        tables = self.left_in_appliances()  # the old Child SA's SAs gone: one SA each way
        how = "on its appliance's soft packet limit " if on_soft_limit else ""
        return self.scenario(
            f"Child SA rekey by {rekeyer.upper()} {how}under traffic{self.of()}",
            took is not None and all(v == 0 for v in lost.values()) and transfer["digest_ok"] and tcp_across
            and all(t["sas"] == 2 for t in tables.values()), **({"appliance_tables": tables} if tables else {}),
            **{"rekeyed_after_s" if on_soft_limit else "rekey_s": round(rekeyed_at - asked, 3) if took is not None
               else None}, spis_before=sorted(before), spis_after=sorted(after),
            udp_sent_each_way=n, udp_lost=lost, tcp_digest_ok=transfer["digest_ok"],
            tcp_across_rekey=tcp_across, tcp_retransmits=self.retransmits() - retrans)

    def ike_spis(self) -> dict:
        """Each side's established IKE SAs as (initiator SPI, responder SPI)."""
        return {s: {(ike["initiator-spi"], ike["responder-spi"]) for ike in site.ike_sas()}
                for s, site in self.sites.items()}

    def rekey_ike(self, rekeyer: str) -> bool:
        """An IKE SA rekey: both sides end with the one same new IKE SA, the Child SA kept."""
        before = self.ike_spis()
        self.sites[rekeyer].rekey_ike()
        took = wait(lambda: (now := self.ike_spis())["a"] == now["b"] and len(now["a"]) == 1
                    and now["a"].isdisjoint(before["a"]), 10)
        pings = self.ping(5)
        return self.scenario(f"IKE SA rekey by {rekeyer.upper()}{self.of()}", took is not None and pings == 5 and
                             self.both_have_one_child(), rekey_s=round(took, 3) if took is not None else None,
                             ike_spis_before=sorted(before["a"]), ike_spis_after=sorted(self.ike_spis()["a"]),
                             ping=f"{pings}/5")

    def left_in_appliances(self, sites: str = "ab") -> dict:
        """What the espline sites among `sites` still hold in their appliances' tables."""
        return {s.upper(): self.sites[s].tables() for s in sites if self.sites[s].kind == "espline"}

    def delete(self, closer: str) -> bool:
        self.sites[closer].terminate()
        gone = wait(self.nobody_has_sas, 10)
        pings = self.ping(3)
        left = self.left_in_appliances()
        return self.scenario(f"DELETE by {closer.upper()} (INFORMATIONAL){self.of()}",
                             gone is not None and pings == 0 and not any(any(t.values()) for t in left.values()),
                             both_sides_empty_after_s=round(gone, 3) if gone is not None else None,
                             ping_after=f"{pings}/3", **({"left_in_appliance": left} if left else {}))

    def dead_peer(self, victim: str, limit: float = 40) -> bool:
        """Kill `victim`'s IKE daemon; the survivor's liveness checks must clear the SAs."""
        survivor = self.sites[OTHER[victim]]
        ok = self.establish(OTHER[victim]) is not None
        self.sites[victim].kill()
        cleared = wait(lambda: not survivor.children() and not survivor.ike_sas(), limit, step=0.2) if ok else None
        left = self.left_in_appliances(OTHER[victim]) if cleared is not None else {}
        figures = {"survivor_cleared_after_s": round(cleared, 1) if cleared is not None else None,
                   **({"left_in_survivor_appliance": left} if left else {})}
        passed = self.scenario(f"dead-peer detection: {victim.upper()} killed, {OTHER[victim].upper()} notices",
                               cleared is not None and not any(any(t.values()) for t in left.values()), **figures)
        self.sites[victim].start()  # fresh, for what follows
        if cleared is None:  # a survivor that never noticed: clear it by hand for the next scenarios
            survivor.stop()
            survivor.start()
        return passed

    def soft_limit_rekey(self, site: str, packets: int = 800) -> bool:
        """An espline site whose Child SAs have a soft packet limit (`rekey_packets`): set up,
        then traffic; the appliance's soft-lifetime event must make the daemon rekey, losing nothing."""
        espline = self.sites[site]
        espline.rekey_packets = packets
        espline.load()
        self.initiator = site
        if self.establish(site) is None:
            passed = self.scenario(f"set-up by {site.upper()} with a soft packet limit", False)
        else:
            passed = self.rekey_under_traffic(site, on_soft_limit=True)
        espline.terminate()
        wait(self.nobody_has_sas, 10)
        espline.rekey_packets = 0
        espline.load()
        return passed

    def wrong_psk(self, initiator: str) -> bool:
        site = self.sites[initiator]
        site.set_psk(PSK + "-wrong")
        refused = self.establish(initiator) is None
        empty = wait(self.nobody_has_sas, 10) is not None
        left = self.left_in_appliances()
        site.set_psk(PSK)
        return self.scenario(f"wrong PSK at {initiator.upper()}, {initiator.upper()} initiates: refused",
                             refused and empty and not any(any(t.values()) for t in left.values()),
                             refused=refused, no_sa_on_either_side=empty,
                             **({"left_in_appliance": left} if left else {}))

    def quick(self) -> None:
        """A short pass: A initiates, rekey by B under traffic, DELETE by A, wrong PSK at A."""
        for site in self.sites.values():
            site.begin()
        if self.set_up("a"):
            self.rekey_under_traffic("b", seconds=3.0)
            self.delete("a")
        self.wrong_psk("a")

    def all(self) -> None:
        for site in self.sites.values():
            site.begin()
        for initiator in "ab":
            if self.set_up(initiator):
                for rekeyer in "ab":
                    self.rekey_under_traffic(rekeyer)
                self.rekey_ike(OTHER[initiator])
                self.delete(initiator)
            else:
                self.sites[initiator].terminate()
                wait(self.nobody_has_sas, 10)
        for victim in "ba":
            self.dead_peer(victim)
            wait(self.nobody_has_sas, 10)
        for initiator in "ab":
            self.wrong_psk(initiator)
        for s, site in self.sites.items():
            if site.kind == "espline":
                self.soft_limit_rekey(s)


def ike_on_the_wire(pcap: Path) -> dict:
    """Wireshark's IKEv2 dissector as an outside judge of every IKE message on the WAN: each one
    an ISAKMP frame, none malformed, no expert error."""
    def count(*display_filter: str) -> int:
        return len(subprocess.run(["tshark", "-r", str(pcap), *display_filter], capture_output=True, text=True,
                                  timeout=120, check=True).stdout.splitlines())
    frames, isakmp = count(), count("-Y", "isakmp")
    bad = count("-Y", "_ws.malformed || _ws.expert.severity >= error")
    verdict = {"scenario": "every IKE message on the WAN well-formed to Wireshark",
               "passed": frames > 0 and isakmp == frames and bad == 0,
               "frames": frames, "isakmp": isakmp, "malformed_or_error": bad}
    print(f"\n[{'PASS' if verdict['passed'] else 'FAIL'}] {verdict['scenario']}: frames={frames}, isakmp={isakmp}, "
          f"malformed_or_error={bad}")
    return verdict


def mac(topo: Topology, role: str, device: str) -> str:
    return json.loads(topo.ns(role, "ip", "-j", "link", "show", "dev", device).stdout)[0]["address"]


def run(out: Path, kinds: tuple[str, str], proposals: str, tcp_bytes: int, udp_rate: float,
        dpd_delay: int, quick: bool = False) -> int:
    if "espline" in kinds:
        print(f"the appliance's Verilator model: {build()}", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    for old in (*out.glob("*/charon.log"), *out.glob("*/ike.log")):
        old.unlink()
    with Topology(f"eik{os.getpid()}") as topo:
        topo.create()
        sites = {}
        for s, kind in zip("ab", kinds, strict=True):
            sites[s] = SITES[kind](topo, s, out / f"site-{s}", PROPOSALS[proposals], dpd_delay)
            sites[s].wire()
        for s, site in sites.items():  # a router and a bump in the wire: the MACs each must address
            other = sites[OTHER[s]]
            if site.kind == "strongswan" and other.kind == "espline":
                # ESP and IKE to the appliance's address go to the MAC of the host behind it: the
                # appliance keeps the outer frame's Ethernet header on the decapsulated packet
                topo.ns(f"app-{s}", "ip", "neigh", "replace", WAN[other.site], "lladdr", mac(topo, f"lan-{other.site}",
                        "eth0"), "dev", "wan", "nud", "permanent")
            if site.kind == "espline" and other.kind == "strongswan":
                site.remote_mac = mac(topo, f"app-{other.site}", "wan")
        ike_filter = "udp port 500 or (udp port 4500 and udp[8:4] = 0)"  # IKE, not ESP (RFC 3948 non-ESP marker)
        for name, args in (("ike.pcap", [ike_filter]), ("wan-head.pcap", ["-c", "400"])):
            topo.spawn("wan", "tcpdump", "-q", "-i", "br0", "-s", "0", "-U", "-w", str(out / name), *args,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for site in sites.values():
            site.start()
            topo.callback(site.stop)
        topo.spawn("lan-b", *PYTHON, "espline.sim.live.bulk", "serve", "5001")
        time.sleep(1)
        print(f"site A: {kinds[0]} {WAN['a']} (LAN {LAN['a']}), site B: {kinds[1]} {WAN['b']} (LAN {LAN['b']}); "
              f"IKE {PROPOSALS[proposals][0]}, ESP {PROPOSALS[proposals][1]}", flush=True)
        interop = Run(topo, sites, tcp_bytes, udp_rate)
        interop.quick() if quick else interop.all()
        time.sleep(0.5)
    if shutil.which("tshark"):
        interop.results.append(ike_on_the_wire(out / "ike.pcap"))
    else:
        print("notice: no tshark; the IKE capture is not checked (apt-get install tshark)")
    passed = sum(r["passed"] for r in interop.results)
    summary = {"sites": kinds, "proposals": PROPOSALS[proposals], "scenarios": interop.results}
    (out / "result.json").write_text(json.dumps(summary, indent=2))
    print(f"\n{kinds[0]} (A) <-> {kinds[1]} (B): {passed}/{len(interop.results)} scenarios passed; "
          f"figures in {out / 'result.json'}")
    return 0 if passed == len(interop.results) else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="make ike-interop", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/ike-interop"))
    ap.add_argument("--sites", default="strongswan,strongswan", help="site A's and site B's IKE implementation")
    ap.add_argument("--proposals", choices=sorted(PROPOSALS), default="x25519")
    ap.add_argument("--tcp-bytes", type=float, default=1e6)
    ap.add_argument("--udp-rate", type=float, default=200, help="datagrams per second each way during a rekey")
    ap.add_argument("--dpd-delay", type=int, default=2, help="seconds between liveness checks")
    ap.add_argument("--quick", action="store_true", help="a short pass: A initiates, Child SA rekey by B under "
                    "traffic, DELETE by A, wrong PSK at A")
    args = ap.parse_args(argv)
    kinds = tuple(args.sites.split(","))
    if len(kinds) != 2 or not set(kinds) <= set(SITES):
        ap.error(f"--sites: two of {', '.join(SITES)} (site A's and site B's), not {args.sites!r}")
    if os.geteuid() != 0:
        print("make ike-interop: network namespaces need root", file=sys.stderr)
        return 2
    if "strongswan" in kinds and (why := strongswan.missing()):
        print(f"make ike-interop: {why}", file=sys.stderr)
        return 2
    missing = [tool for tool in ("ip", "ethtool", "ping", "nstat", "tcpdump") if not shutil.which(tool)]
    if missing:
        print(f"make ike-interop: missing {', '.join(missing)}", file=sys.stderr)
        return 2
    return run(args.out, kinds, args.proposals, int(args.tcp_bytes), args.udp_rate, args.dpd_delay, args.quick)


if __name__ == "__main__":
    sys.exit(main())
