"""The `espline` command (`main`): `espline model encap|decap`, a capture through the reference
model offline, and the device commands of `espline.host.cli`."""

import json
import sys
from contextlib import ExitStack

from espline.config import ConfigError, load
from espline.host import cli as host_cli

from .model import Appliance, Port
from .pcap import PcapWriter, read_frames

DIRECTIONS = {"encap": (Port.PLAIN, Port.CIPHER), "decap": (Port.CIPHER, Port.PLAIN)}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("model", help="run pcap files through the bit-exact reference model",
                              description="Feed the frames of IN into the model's plaintext (encap) or ciphertext "
                                          "(decap) port; write what leaves the opposite port to OUT.")
    p.add_argument("direction", choices=sorted(DIRECTIONS))
    p.add_argument("--config", required=True, help="SAs and policies (TOML; see docs/config.md)")
    p.add_argument("--punt", metavar="PCAP", help="also write frames punted to the host (IKE) here")
    p.add_argument("--json", action="store_true", help="print counters as JSON")
    p.add_argument("input", metavar="IN")
    p.add_argument("output", metavar="OUT")
    p.set_defaults(run=run)


def run(args) -> int:
    try:
        appliance = Appliance.from_config(load(args.config))
        frames = list(read_frames(args.input))
    except (ConfigError, ValueError, OSError) as e:
        print(f"espline: {e}", file=sys.stderr)
        return 2
    port_in, port_out = DIRECTIONS[args.direction]
    with ExitStack() as files:
        outputs = {port_out: files.enter_context(PcapWriter(args.output))}
        if args.punt:
            outputs[Port.HOST] = files.enter_context(PcapWriter(args.punt))
        for frame, timestamp in frames:
            verdict = appliance.process(port_in, frame)
            if verdict.port in outputs:
                outputs[verdict.port].write(verdict.frame, timestamp)
    report(appliance, args.json)
    return 0


def report(appliance, as_json: bool = False) -> None:
    """Global and per-SA counters, and lifetime events."""
    sas = {f"{sa.dir} spi {sa.spi:#010x}": vars(sa.counters) for sa in appliance.sad}
    events = [f"{event.value} spi {sa.spi:#010x}" for event, sa in appliance.events]
    if as_json:
        print(json.dumps({"global": appliance.counters.as_dict(), "sa": sas, "events": events}, indent=2))
        return
    print("  ".join(f"{k}={v}" for k, v in appliance.counters.as_dict().items() if v or not k.startswith("drop")))
    for name, c in sas.items():
        print(f"  {name}: " + "  ".join(f"{k}={v}" for k, v in c.items()))
    for e in events:
        print(f"  event: {e}")


def main(argv=None) -> int:
    """The `espline` command: model and device commands."""
    from .live.device import add_parser as add_run_parser

    return host_cli.main(argv, add_other_parsers=[add_parser, add_run_parser])


if __name__ == "__main__":
    sys.exit(main())
