"""The `espline` command's device commands: the appliance through its registers. The command
itself is `espline.sim.cli.main`, which adds the reference model's (`espline model`): the host
side never imports the simulation side (docs/architecture.md).

Device commands follow `ip xfrm state|policy` (see espline.host.xfrm) and take the TOML
configuration of docs/config.md (`load`); `--transport` picks the whole appliance gateware in
Amaranth's simulator (`sim`, a fresh one per run: use `batch` for several commands in one
session; its counters are the real datapath's, idle unless a test feeds it frames), a
board's UART bridge (`uart:/dev/ttyUSB0[:BAUD]`), or the management socket of a running
device (`espline run`: `unix:PATH`, `tcp:127.0.0.1:PORT`; docs/live.md).
"""

import argparse
import json
import shlex
import sys
import warnings

from espline.config import ConfigError, ConfigWarning, load
from espline.config.policy import PROTOCOL_NAMES
from espline.host import xfrm
from espline.host.ike import cli as ike_cli

DEVICE_COMMANDS = ("state", "policy", "stats", "load", "events", "batch")


def open_transport(spec: str):
    """(transport, whether the driver must read the tables back): a fresh simulation holds none."""
    kind, _, where = spec.partition(":")
    if kind == "sim":
        from espline.gateware.appliance import Appliance
        from espline.host.transport.sim import AmaranthSimTransport
        return AmaranthSimTransport(Appliance()), False
    if kind == "uart" and where:
        from espline.host.transport.uart import UartTransport
        port, _, baud = where.partition(":")
        return (UartTransport(port, int(baud)) if baud else UartTransport(port)), True
    if kind in ("unix", "tcp") and where:
        from espline.host.transport.socket import SocketStream
        from espline.host.transport.uart import UartTransport
        return UartTransport(SocketStream(spec)), True
    raise ConfigError(f"--transport: {spec!r} is not 'sim', 'uart:DEVICE[:BAUD]', 'unix:PATH' or 'tcp:HOST:PORT'")


def _sa_lines(index: int, sa) -> list[str]:
    lines = [f"src {sa.src} dst {sa.dst}",
             f"\tproto esp spi {sa.spi:#010x} dir {sa.dir} mode {sa.mode} index {index}",
             f"\taead rfc4106(gcm(aes)) (key hidden, {8 * (len(sa.key) - 4)} bits) {sa.icv_bits}",
             f"\treplay-window {sa.replay_window}{' flag esn' if sa.esn else ''} ttl {sa.ttl} df {sa.df}"]
    if sa.start:
        lines.append(f"\t{'replay-oseq' if sa.dir == 'out' else 'replay-seq'} {sa.start} (the starting number)")
    if sa.encap:
        lines.append(f"\tencap espinudp {sa.encap.sport} {sa.encap.dport}")
    limits = {k: getattr(sa.lifetime, v) for k, v in xfrm.LIMITS.items() if getattr(sa.lifetime, v)}
    if limits:
        lines.append("\tlimit " + " ".join(f"{k} {v}" for k, v in limits.items()))
    return lines


def _policy_line(index: int, p) -> str:
    s = p.selector
    words = [f"src {s.src} dst {s.dst}"]
    if s.proto is not None:
        names = {number: name for name, number in PROTOCOL_NAMES.items()}
        words.append(f"proto {names.get(s.proto, s.proto)}")
    for name, (lo, hi) in (("sport", s.sport), ("dport", s.dport)):
        if (lo, hi) != (0, 65535):
            words.append(f"{name} {lo}" if lo == hi else f"{name} {lo}-{hi}")
    words += [f"dir {p.dir} priority {p.priority} action {p.action}"]
    if p.spi is not None:
        words.append(f"spi {p.spi:#010x}")
    return " ".join(words) + f" index {index}"


def _state(dev, words: list[str], out) -> None:
    verb, rest = (words[0], words[1:]) if words else ("list", [])
    if verb in ("add", "update"):
        index = (dev.add_sa if verb == "add" else dev.update_sa)(xfrm.state(rest))
        print(f"state {verb}: index {index}", file=out)
    elif verb == "delete":
        entry = xfrm.state(rest)
        if "spi" not in entry or "dir" not in entry:
            raise ConfigError("state delete: name the SA by 'spi SPI dir in|out'")
        dev.delete_sa(entry["dir"], int(str(entry["spi"]), 0))
    elif verb == "flush":
        dev.flush_sas()
    elif verb == "list":
        for i, sa in enumerate(dev.sas):
            if sa is not None:
                print("\n".join(_sa_lines(i, sa)), file=out)
    else:
        raise ConfigError(f"state: unknown verb {verb!r} (add, update, delete, list, flush)")


def _policy(dev, words: list[str], out) -> None:
    verb, rest = (words[0], words[1:]) if words else ("list", [])
    if verb == "add":
        print(f"policy add: index {dev.add_policy(xfrm.policy(rest))}", file=out)
    elif verb == "delete":
        if len(rest) != 2 or rest[0] != "index":
            raise ConfigError("policy delete: name the policy by 'index N' (see policy list)")
        dev.delete_policy(int(rest[1], 0))
    elif verb == "flush":
        dev.flush_policies()
    elif verb == "list":
        for i, p in enumerate(dev.policies):
            print(_policy_line(i, p), file=out)
    else:
        raise ConfigError(f"policy: unknown verb {verb!r} (add, delete, list, flush)")


def _stats(dev, as_json: bool, out) -> None:
    sas = {f"{sa.dir} spi {sa.spi:#010x}": vars(dev.sa_counters(i)) for i, sa in enumerate(dev.sas) if sa}
    counters = dev.global_counters()
    if as_json:
        print(json.dumps({"global": counters, "sa": sas}, indent=2), file=out)
        return
    print("  ".join(f"{k}={v}" for k, v in counters.items() if v or not k.startswith("drop")), file=out)
    for name, c in sas.items():
        print(f"  {name}: " + "  ".join(f"{k}={v}" for k, v in c.items()), file=out)


def _events(dev, timeout: float, out) -> None:
    while (event := dev.wait_event(timeout)) is not None:
        kind, index = event
        sa = dev.sas[index]
        who = f"{sa.dir} spi {sa.spi:#010x}" if sa else f"index {index}"
        print(f"event: {getattr(kind, 'value', kind)} {who}", file=out)


def run_device(dev, args, out=sys.stdout) -> None:
    """One device command on an open driver."""
    if args.command == "state":
        _state(dev, args.words, out)
    elif args.command == "policy":
        _policy(dev, args.words, out)
    elif args.command == "stats":
        _stats(dev, args.json, out)
    elif args.command == "load":
        config = load(args.config)
        for line in dev.load(config.sas, config.policies):
            print(f"load: {line}", file=out)
    elif args.command == "events":
        _events(dev, args.timeout, out)


def add_device_parsers(commands) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--transport", default="sim", help="sim (default), uart:/dev/ttyUSB0[:BAUD], "
                        "unix:PATH or tcp:HOST:PORT (a running `espline run`)")
    for name, help in (("state", "SAs, in the words of `ip xfrm state`: add|update|delete|list|flush"),
                       ("policy", "policies, in the words of `ip xfrm policy`: add|delete|list|flush")):
        p = commands.add_parser(name, parents=[common], help=help, description=xfrm.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("words", nargs="*")  # options may come after them (`state list --transport X`)
    p = commands.add_parser("stats", parents=[common], help="global and per-SA counters")
    p.add_argument("--json", action="store_true")
    p = commands.add_parser("load", parents=[common], help="make SAs and policies those of a configuration file "
                            "(changing only what differs; prints what changed)")
    p.add_argument("config", help="TOML, as docs/config.md describes")
    p = commands.add_parser("events", parents=[common], help="print events until none comes for TIMEOUT seconds")
    p.add_argument("--timeout", type=float, default=1.0)
    p = commands.add_parser("batch", parents=[common], help="run device commands from FILE (one a line) in one session")
    p.add_argument("file", help="lines like 'state add src ...'; '#' starts a comment")


def make_parser(add_other_parsers=()) -> argparse.ArgumentParser:
    """The `espline` command line: the device commands and those `add_other_parsers` add (each a
    function of the subparsers, e.g. `espline.sim.cli.add_parser`; they set `run`)."""
    parser = argparse.ArgumentParser(prog="espline", description="espline: inline IPsec ESP cryptoprocessor")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in add_other_parsers:
        add(commands)
    add_device_parsers(commands)
    ike_cli.add_parser(commands)
    return parser


def _print_warning(message, category, *_):
    """A `ConfigWarning` as one line on stderr (others as Python prints them)."""
    if issubclass(category, ConfigWarning):
        print(f"espline: warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, *_[:2]), end="", file=sys.stderr)


def main(argv=None, out=sys.stdout, add_other_parsers=()) -> int:
    """The `espline` command; every configuration warning printed, each time it is given."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", ConfigWarning)
        warnings.showwarning = _print_warning
        return _main(argv, out, add_other_parsers)


def _main(argv, out, add_other_parsers) -> int:
    parser = make_parser(add_other_parsers)
    args = parser.parse_args(argv)
    if args.command not in DEVICE_COMMANDS:
        return args.run(args)
    from espline.host.driver import Espline
    try:
        transport, scan = open_transport(args.transport)
        dev = Espline(transport, scan=scan)
        if args.command != "batch":
            run_device(dev, args, out)
            return 0
        with open(args.file) as f:
            for number, line in enumerate(f, 1):
                words = shlex.split(line, comments=True)
                if not words:
                    continue
                sub = parser.parse_args(words)
                if sub.command not in DEVICE_COMMANDS or sub.command == "batch":
                    raise ConfigError(f"{args.file}:{number}: {words[0]!r} is not a device command")
                run_device(dev, sub, out)
    except (ConfigError, ValueError, OSError, RuntimeError, TimeoutError) as e:
        print(f"espline: {e}", file=sys.stderr)
        return 2
    return 0
