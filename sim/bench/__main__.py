"""Run benchmarks in turn: `python -m espline.sim.bench [NAME ...] [OPTIONS]`.

NAMEs default to all of them; OPTIONS (from the first argument starting with "-") go to each
benchmark's own parser, e.g. `python -m espline.sim.bench appliance --config wide`.
"""

import importlib
import itertools
import sys

BENCHES = ["model", "gcm", "appliance", "spi_index", "board"]  # modules of espline.sim.bench, each with main(argv)


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = list(itertools.takewhile(lambda a: not a.startswith("-"), argv))
    options = argv[len(names):]
    for name in names:
        if name not in BENCHES:
            print(f"bench: unknown benchmark {name!r} (have: {', '.join(BENCHES)})", file=sys.stderr)
            return 2
    for name in names or BENCHES:
        importlib.import_module(f"espline.sim.bench.{name}").main(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
