"""`espline run`: one appliance (the gateware, in Verilator) as a network device.

Its `plain` port is attached to the LAN interface, `cipher` to the WAN interface (AF_PACKET),
`host` to an interface or a Unix SOCK_SEQPACKET socket (a frame per message) for a key-management
daemon; its register bus is served on a Unix socket (and TCP on 127.0.0.1) in the UART bridge's
protocol, so `espline --transport unix:PATH ...` acts on the running device. The C++ harness is
`harness.cpp`; the build (`build/live_<config>/`) is kept and reused while the gateware is unchanged.
"""

import fcntl
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

from espline.sim.demo import CONFIG, OPTIONS
from espline.sim.toolchain import BUILD_ROOT, gateware_fingerprint, verilator_env, write_verilog

TOP = "espline_live"
HARNESS = Path(__file__).with_name("harness.cpp")
BOUNDARY = Path(__file__).with_name("boundary.py")
BINARY = "espline-live"
#: The device's tables: Verilator evaluates every policy's match logic each cycle, so the
#: register map's 64 policies would cost most of the simulation speed (docs/live.md).
TABLES = {"N_SA": 64, "N_POLICY": 8}


def build(build_dir: Path | None = None, quiet: bool = False, mtu: int = OPTIONS["mtu"]) -> Path:
    """The harness executable for the appliance build of `make demo` with the tables of `TABLES`
    and the ciphertext side's `mtu` (a build parameter); built once per `mtu` (about 5 min)."""
    if build_dir is None:
        build_dir = BUILD_ROOT / (f"live_{CONFIG}" if mtu == OPTIONS["mtu"] else f"live_{CONFIG}_mtu{mtu}")
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:  # one build at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(build_dir, quiet, {**OPTIONS, "mtu": mtu})


def _build(build_dir: Path, quiet: bool, options: dict) -> Path:
    from espline import regmap
    from espline.gateware.appliance import Appliance

    from .boundary import Boundary

    source, binary = build_dir / f"{TOP}.v", build_dir / "obj" / BINARY
    gateware = gateware_fingerprint(CONFIG, {**options, **TABLES}) + hashlib.sha256(BOUNDARY.read_bytes()).hexdigest()
    stamp = build_dir / "fingerprint"
    if not (stamp.exists() and stamp.read_text().startswith(gateware) and source.exists()):
        appliance = Appliance(CONFIG, regmap=regmap.compile(**TABLES), **options)
        write_verilog(Boundary(appliance), TOP, source)
        (build_dir / "params").write_text(f"{appliance.width} {len(appliance.bus.adr)}")
        stamp.write_text(gateware)
    width, addr_width = (build_dir / "params").read_text().split()
    # the C++ compiler's optimization is Verilator's own (-Os for the model's per-cycle code, none for
    # its construction): -Os ran 128-135 k cycles per CPU second where -O2 ran 107-120 k (docs/live.md)
    cmd = ["verilator", "--cc", "--exe", "--build", "-j", "2", "-O3", "--x-assign", "fast", "--x-initial", "fast",
           "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", TOP, "--Mdir", str(build_dir / "obj"),
           "-o", BINARY, "-CFLAGS", f"-DWIDTH={width} -DADDR_WIDTH={addr_width}", str(source), str(HARNESS)]
    fingerprint = gateware + hashlib.sha256((HARNESS.read_text() + " ".join(cmd)).encode()).hexdigest()
    if binary.exists() and stamp.read_text() == fingerprint:
        return binary
    if not quiet:
        print(f"building the Verilator model of Appliance({CONFIG!r}) for `espline run` in {build_dir}: "
              "the first time takes about 5 minutes (later runs reuse it) ...", file=sys.stderr, flush=True)
    env = {**os.environ, **verilator_env()}
    log = build_dir / "build.log"
    with open(log, "w") as out:
        if subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode:
            raise RuntimeError(f"building the live harness failed: see {log}")
    stamp.write_text(fingerprint)
    return binary


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("run", help="run the appliance gateware (Verilator) as a network device on Linux "
                              "interfaces, its registers on a management socket (docs/live.md)")
    p.add_argument("--plain", required=True, metavar="IF", help="the LAN (plaintext) interface")
    p.add_argument("--cipher", required=True, metavar="IF", help="the WAN (ciphertext) interface")
    p.add_argument("--host", metavar="IF|unix:PATH", help="where punted frames go and host frames come from: an "
                   "interface, or a SOCK_SEQPACKET socket a daemon connects to (default unix:MGMT.host)")
    p.add_argument("--mgmt", required=True, metavar="PATH", help="the register bus on this Unix socket "
                   "(`espline --transport unix:PATH ...`)")
    p.add_argument("--tcp", type=int, metavar="PORT", help="also on tcp:127.0.0.1:PORT")
    p.add_argument("--pcap", metavar="DIR", help="write every port's frames to DIR/<port>-in|out.pcap")
    p.add_argument("--mtu", type=int, default=OPTIONS["mtu"], help="the largest protected packet on the WAN "
                   f"(a build parameter: its own build; default {OPTIONS['mtu']})")
    p.set_defaults(run=run)


def run(args) -> int:
    """Check what can be checked here (clear errors), build or reuse the harness, become it."""
    interfaces = [args.plain, args.cipher] + ([args.host] if args.host and not args.host.startswith("unix:") else [])
    for name in interfaces:
        if not Path("/sys/class/net", name).exists():
            print(f"espline run: no network interface {name!r} in this network namespace", file=sys.stderr)
            return 2
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except PermissionError:
        print("espline run: attaching to interfaces needs CAP_NET_RAW (run as root)", file=sys.stderr)
        return 2
    try:
        binary = build(mtu=args.mtu)
    except RuntimeError as e:
        print(f"espline run: {e}", file=sys.stderr)
        return 2
    argv = [str(binary), "--plain", args.plain, "--cipher", args.cipher, "--mgmt", args.mgmt]
    for flag in ("host", "tcp", "pcap"):
        if getattr(args, flag) is not None:
            argv += [f"--{flag}", str(getattr(args, flag))]
    sys.stdout.flush()
    os.execv(binary, argv)
