"""`espline ike CONFIG --transport unix:MGMT [--host unix:PATH] [--initiate NAME] [--control PATH]`: the daemon on a
running appliance (`espline run`, docs/live.md): registers through the driver's transport,
frames through the host port's SOCK_SEQPACKET socket (default MGMT.host). SIGINT/SIGTERM
delete every IKE SA (the peer is told) and end it. One log line per event on stderr.
`espline ikectl --control PATH COMMAND` sends a command to its control socket (`control`)."""

import logging
import signal
import sys
import time

from espline.config import ConfigError, load


def add_parser(commands) -> None:
    p = commands.add_parser("ike", help="the IKEv2 daemon (RFC 7296) on a running appliance's host port (docs/ike.md)")
    p.add_argument("config", help="TOML with an [ike] table (docs/ike.md)")
    p.add_argument("--transport", required=True, help="the appliance's registers: unix:PATH or tcp:HOST:PORT "
                   "(espline run's management socket), or uart:DEVICE[:BAUD]")
    p.add_argument("--host", metavar="unix:PATH", help="the host port's socket (default: the management socket's "
                   "path + '.host', as espline run makes it)")
    p.add_argument("--initiate", action="append", default=[], metavar="NAME",
                   help="initiate this connection at start (besides those with start_action = start)")
    p.add_argument("--control", metavar="PATH", help="a control socket here (list, initiate, rekey-child, "
                   "rekey-ike, terminate; see `espline ikectl`)")
    p.add_argument("-v", "--verbose", action="store_true", help="also debug lines (keys' fingerprints)")
    p.set_defaults(run=run)
    p = commands.add_parser("ikectl", help="a command to a running `espline ike` (its --control socket)")
    p.add_argument("--control", required=True, metavar="PATH")
    p.add_argument("words", nargs="+", help="list | initiate NAME | rekey-child NAME | rekey-ike NAME | terminate NAME")
    p.set_defaults(run=run_ctl)


def run_ctl(args) -> int:
    from .control import request
    try:
        lines = request(args.control, " ".join(args.words))
    except OSError as e:
        print(f"espline ikectl: no daemon answers on {args.control}: {e.strerror or e}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0 if lines and lines[-1] == "ok" else 1


def host_path(args) -> str:
    if args.host:
        kind, _, path = args.host.partition(":")
        if kind != "unix" or not path:
            raise ConfigError(f"--host: {args.host!r} is not unix:PATH")
        return path
    kind, _, path = args.transport.partition(":")
    if kind != "unix":
        raise ConfigError("--host: give the host port's socket (unix:PATH) when --transport is not unix:PATH")
    return path + ".host"


def run(args) -> int:
    from espline.host.cli import open_transport
    from espline.host.driver import Espline

    from .control import ControlSocket
    from .daemon import ConfigurationError, Daemon
    from .installer import DriverInstaller
    from .link import SeqpacketLink

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s.%(msecs)03d ike: %(message)s", datefmt="%H:%M:%S")
    try:
        config = load(args.config)
        if config.ike is None or not config.ike.connections:
            raise ConfigError(f"{args.config}: no [ike.connections] table")
        for name in args.initiate:
            if name not in config.ike.connections:
                raise ConfigError(f"--initiate: no connection {name!r} in {args.config}")
        transport, scan = open_transport(args.transport)
        dev = Espline(transport, scan=scan)
        link = SeqpacketLink(host_path(args))
        daemon = Daemon(config.ike, link, DriverInstaller(dev))
        control = ControlSocket(args.control, daemon) if args.control else None
    except (ConfigError, ConfigurationError, OSError, ValueError, RuntimeError, TimeoutError) as e:
        print(f"espline ike: {e}", file=sys.stderr)
        return 2
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    for name in args.initiate:
        daemon.initiate(name)
    try:
        daemon.run(stop=lambda: bool(stopping), control=control)
        daemon.close()  # DELETE to every peer; their answers for up to 2 s
        end = time.monotonic() + 2
        while daemon.sas and time.monotonic() < end:
            frame = link.receive(0.1)
            if frame is not None:
                daemon.receive(frame)
    except (OSError, ConnectionError, TimeoutError) as e:
        print(f"espline ike: {e}", file=sys.stderr)
        return 2
    finally:
        link.close()
        if control is not None:
            control.close()
    return 0
