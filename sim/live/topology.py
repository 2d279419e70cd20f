"""`make live`: two simulated appliances between two real Linux hosts, in network namespaces.

    LAN-A host ──veth── appliance A ──veth── WAN (bridge) ──veth── appliance B ──veth── LAN-B host
    10.1.0.1/16         espline run                          espline run         10.2.0.1/16

Each appliance is `espline run` (the gateware in Verilator) in a namespace of its own, configured
from docs/examples/site-a.toml / site-b.toml through its management socket. Then: `ping`, a burst
of small UDP datagrams (packets/s), a TCP bulk transfer checked by SHA-256 (Mb/s) while an
attacker on the WAN replays, forges and misaddresses ESP; the WAN capture decrypted by tshark
with the configured keys; the counters of both devices, read over their sockets, must account
for every frame and show the attack as drops only. Namespaces and processes are removed on exit,
also on failure. Needs root (CAP_NET_ADMIN), iproute2 and ethtool; tcpdump and tshark for the
WAN capture (skipped with a notice when absent).
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from espline.config import load
from espline.host.driver import Espline
from espline.host.transport.socket import SocketStream
from espline.host.transport.uart import UartTransport
from espline.sim import cli, tshark
from espline.sim.model.accounting import frames_accounted

from .device import build

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HOSTS = {"a": "10.1.0.1", "b": "10.2.0.1"}
LANS = {"a": "10.2.0.0/16", "b": "10.1.0.0/16"}  # each host's route to the other LAN: on-link, through the wire
PYTHON = [sys.executable, "-m"]


class Topology(contextlib.ExitStack):
    """The namespaces `<prefix>-{lan-a,app-a,wan,app-b,lan-b}` and their links; removed on exit."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix
        self.names = {role: f"{prefix}-{role}" for role in ("lan-a", "app-a", "wan", "app-b", "lan-b")}

    def ns(self, role: str, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `cmd` in a namespace; with `check`, a failure raises RuntimeError with its message."""
        done = subprocess.run(["ip", "netns", "exec", self.names[role], *cmd], text=True, capture_output=True)
        if check and done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} (in {self.names[role]}): {done.stderr.strip() or done.returncode}")
        return done

    def spawn(self, role: str, *cmd: str, **kw) -> subprocess.Popen:
        """A process in a namespace, terminated when the topology is removed."""
        p = subprocess.Popen(["ip", "netns", "exec", self.names[role], *cmd], text=True, **kw)
        self.callback(_stop, p)
        return p

    def create(self) -> None:
        self.callback(self._remove)
        for name in self.names.values():
            subprocess.run(["ip", "netns", "add", name], check=True)
        for role in self.names:
            self.ns(role, "ip", "link", "set", "lo", "up")
            self.ns(role, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        self.ns("wan", "ip", "link", "add", "br0", "type", "bridge")
        self.ns("wan", "ip", "link", "set", "br0", "mtu", "9000", "up")
        for site in "ab":
            app, lan = f"app-{site}", f"lan-{site}"
            self.ns(lan, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "lan", "netns", self.names[app])
            port = f"to-{site}"  # the bridge's port towards appliance `site`
            self.ns(app, "ip", "link", "add", "wan", "mtu", "9000", "type", "veth", "peer", "name", port,
                    "mtu", "9000", "netns", self.names["wan"])
            self.ns("wan", "ip", "link", "set", "dev", port, "master", "br0")
            self.ns(lan, "ip", "addr", "add", f"{HOSTS[site]}/16", "dev", "eth0")
            # the frames the appliances see are the frames on the wire: no segmentation or
            # checksum offload, no receive coalescing (docs/live.md)
            for role, dev in ((lan, "eth0"), (app, "lan"), (app, "wan"), ("wan", port)):
                self.ns(role, "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off")
                self.ns(role, "ip", "link", "set", dev, "up")
            self.ns(lan, "ip", "route", "add", LANS[site], "dev", "eth0")

    def _remove(self) -> None:
        for name in self.names.values():
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def device(mgmt: Path) -> Espline:
    return Espline(UartTransport(SocketStream(f"unix:{mgmt}")))


def espline(command: str, mgmt: Path) -> None:
    """An `espline` device command on a running device, printed as a shell session would show it."""
    print(f"$ espline {command} --transport unix:{mgmt}", flush=True)
    if cli.main([*command.split(), "--transport", f"unix:{mgmt}"]):
        raise RuntimeError(f"espline {command} failed")
    sys.stdout.flush()


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise RuntimeError(f"the appliance exited ({process.returncode}) before listening on {path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"no management socket {path} after {seconds} s")
        time.sleep(0.1)


def ping(topo: Topology, count: int) -> dict:
    out = topo.ns("lan-a", "ping", "-c", str(count), "-i", "0.05", "-W", "2", HOSTS["b"], check=False).stdout
    received = int(re.search(r"(\d+) received", out)[1])
    rtt = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)", out)
    return {"sent": count, "received": received, **({"rtt_ms": [float(x) for x in rtt.groups()]} if rtt else {})}


def run(out: Path, tcp_bytes: int, udp_packets: int, attack_each: int, mtu: int = 9000) -> int:
    binary = build(mtu=mtu)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="espline-live-"))
    ok = True
    with Topology(f"esl{os.getpid()}") as topo:
        topo.callback(shutil.rmtree, work, True)
        topo.create()
        apps, devs = {}, {}
        for site in "ab":
            mgmt = work / f"{site}.sock"
            apps[site] = topo.spawn(f"app-{site}", *PYTHON, "espline.sim.cli", "run", "--plain", "lan",
                                    "--cipher", "wan", "--mgmt", str(mgmt), "--pcap", str(out / f"site-{site}"),
                                    "--mtu", str(mtu),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            wait_for(mgmt, apps[site])
            espline(f"load {EXAMPLES / f'site-{site}.toml'}", mgmt)
            devs[site] = device(mgmt)
        espline("state list", work / "a.sock")
        print(f"both appliances up ({binary}); LAN-A host {HOSTS['a']}, LAN-B host {HOSTS['b']}", flush=True)

        wire = out / "wire.pcap"
        capture = None
        if shutil.which("tcpdump"):
            capture = topo.spawn("wan", "tcpdump", "-q", "-i", "br0", "-s", "0", "-U", "-w", str(wire),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)
        else:
            print("notice: no tcpdump; the WAN is not captured (apt-get install tcpdump)")

        result = {"ping": ping(topo, 50)}
        print(f"ping: {result['ping']}", flush=True)

        counter = topo.spawn("lan-b", *PYTHON, "espline.sim.live.bulk", "count", "5002", "3",
                             stdout=subprocess.PIPE)
        time.sleep(0.5)
        topo.ns("lan-a", *PYTHON, "espline.sim.live.bulk", "blast", HOSTS["b"], "5002", str(udp_packets), "64")
        result["udp"] = json.loads(counter.communicate(timeout=300)[0])
        print(f"UDP, {udp_packets} datagrams of 64 bytes sent: {result['udp']}", flush=True)

        topo.spawn("lan-b", *PYTHON, "espline.sim.live.bulk", "serve", "5001")
        time.sleep(0.5)
        before = {site: dev.global_counters() for site, dev in devs.items()}
        sa_before = devs["b"].sa_counters(devs["b"].sa_index("in", 0x1000))
        sender = topo.spawn("lan-a", *PYTHON, "espline.sim.live.bulk", "send", HOSTS["b"], "5001", str(tcp_bytes),
                            stdout=subprocess.PIPE)
        attacker = topo.spawn("wan", *PYTHON, "espline.sim.live.attack", "br0", "0x1000", str(attack_each),
                              stdout=subprocess.PIPE)
        result["tcp"] = json.loads(sender.communicate(timeout=600)[0])
        result["attack"] = json.loads(attacker.communicate(timeout=120)[0])
        print(f"TCP: {result['tcp']}", flush=True)
        print(f"attacker on the WAN sent: {result['attack']}", flush=True)
        time.sleep(1)
        after = {site: dev.global_counters() for site, dev in devs.items()}
        sa_after = devs["b"].sa_counters(devs["b"].sa_index("in", 0x1000))

        espline("stats", work / "a.sock")
        for site, c in after.items():
            accounted = frames_accounted(c)
            ok &= accounted
            print(f"site {site.upper()} counters: " + "  ".join(f"{k}={v}" for k, v in c.items()
                                                             if v or not k.startswith("drop")))
            print(f"site {site.upper()}: every frame accounted for (rx = tx + punted + drops): {accounted}")
        attack = result["attack"]
        delta = {k: after["b"][k] - before["b"][k] for k in after["b"]}
        delta_a = {k: after["a"][k] - before["a"][k] for k in after["a"]}
        seen = {"replay": sa_after.replay - sa_before.replay, "forged": sa_after.auth_fail - sa_before.auth_fail,
                "unknown_spi": delta["drop_no-sa"]}
        attack_ok = seen == attack and all(v == 0 for k, v in delta.items()
                                           if k.startswith("drop_") and k not in ("drop_replay", "drop_auth-fail",
                                                                                   "drop_no-sa"))
        print(f"site B during the transfer: replays dropped {seen['replay']}, forgeries dropped (auth-fail) "
              f"{seen['forged']}, unknown SPI dropped {seen['unknown_spi']}; no other drop: {attack_ok}")
        ok &= attack_ok and result["tcp"]["digest_ok"] and result["ping"]["received"] == result["ping"]["sent"]
        pmtu = {"too_big": delta_a["drop_too-big"], "icmp_sent": delta_a["icmp_sent"],
                "icmp_limited": delta_a["icmp_limited"], "pmtu": pmtu_of(topo)}
        result["pmtu"] = pmtu
        print(f"site A during the transfer (appliance mtu {mtu}): too-big drops {pmtu['too_big']}, ICMP "
              f"fragmentation-needed sent {pmtu['icmp_sent']}, rate-limited {pmtu['icmp_limited']}; LAN-A host's "
              f"path MTU to {HOSTS['b']}: {pmtu['pmtu']}", flush=True)
        if mtu < 1500 + 57:  # the hosts' 1500-byte packets do not fit once protected: PMTU discovery must act
            ok &= pmtu["icmp_sent"] > 0 and pmtu["pmtu"] is not None and pmtu["pmtu"] < 1500

        if capture:
            _stop(capture)
            if tshark.available():
                sas = [sa for site in "ab" for sa in load(EXAMPLES / f"site-{site}.toml").sas if sa.dir == "out"]
                result["wire"] = wire_check(wire, sas)
                print(f"tshark on {wire}: {result['wire']}")
                ok &= result["wire"]["plain_ip"] == 0 and result["wire"]["bad_icv"] == result["attack"]["forged"]
        for site, p in apps.items():
            _stop(p)
            print("\n".join(f"site {site.upper()}: {line}" for line in p.stdout.read().splitlines()
                            if "stopped" in line or "frames in" in line))
        udp = result["udp"]
        print(f"\nfigures: {udp['packets_per_s']:.0f} packets/s (UDP, 64 bytes, {udp['received']}/{udp_packets} "
              f"delivered); TCP {result['tcp']['mbit_per_s']:.1f} Mb/s ({tcp_bytes} bytes, digest ok: "
              f"{result['tcp']['digest_ok']}); ping RTT min/avg/max {result['ping'].get('rtt_ms')} ms")
        (out / "result.json").write_text(json.dumps(result, indent=2))
    print("live " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def pmtu_of(topo: Topology) -> int | None:
    """The path MTU the LAN-A host's kernel holds for the LAN-B host (learnt from ICMP), if any."""
    out = topo.ns("lan-a", "ip", "route", "get", HOSTS["b"], check=False).stdout
    found = re.search(r"\bmtu (\d+)", out)
    return int(found[1]) if found else None


def wire_check(pcap: Path, sas) -> dict:
    """tshark's view of the WAN: ESP frames, their ICVs where Wireshark holds the SA (it cannot
    express ESN SAs), and IPv4 frames that are not ESP (there must be none)."""
    frames = tshark.decode(pcap, [sa for sa in sas if not sa.esn])
    esp = [f for f in frames if f["esp.spi"]]
    return {"frames": len(frames), "esp": len(esp),
            "good_icv": sum(f["esp.icv_good"] == ["1"] for f in esp),
            "bad_icv": sum(f["esp.icv_bad"] == ["1"] for f in esp),
            "not_checked_esn": sum(1 for f in esp if not f["esp.icv_good"] and not f["esp.icv_bad"]),
            "plain_ip": sum(1 for f in frames if f["ip.proto"] and not f["esp.spi"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="make live", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/live"))
    ap.add_argument("--tcp-bytes", type=float, default=20e6)
    ap.add_argument("--udp-packets", type=int, default=20000)
    ap.add_argument("--attack", type=int, default=20, help="ESP frames the attacker replays, forges and misaddresses")
    ap.add_argument("--mtu", type=int, default=9000, help="the appliances' WAN MTU (a build of its own); 1500: "
                    "the hosts' 1500-byte packets no longer fit once protected, and the transfer relies on the "
                    "appliance's ICMP fragmentation-needed (Path MTU discovery, docs/live.md)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("make live: network namespaces need root", file=sys.stderr)
        return 2
    missing = [tool for tool in ("ip", "ethtool", "ping") if not shutil.which(tool)]
    if missing:
        print(f"make live: missing {', '.join(missing)} (apt-get install iproute2 ethtool iputils-ping)",
              file=sys.stderr)
        return 2
    return run(args.out, int(args.tcp_bytes), args.udp_packets, args.attack, args.mtu)


if __name__ == "__main__":
    sys.exit(main())
