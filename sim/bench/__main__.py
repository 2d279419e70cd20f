"""Run every benchmark in turn: `python -m espline.sim.bench [NAME ...]`."""

import importlib
import sys

BENCHES = ["model", "gcm", "appliance"]  # modules of espline.sim.bench, each with main()


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or BENCHES
    for name in names:
        if name not in BENCHES:
            print(f"bench: unknown benchmark {name!r} (have: {', '.join(BENCHES)})", file=sys.stderr)
            return 2
        importlib.import_module(f"espline.sim.bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
