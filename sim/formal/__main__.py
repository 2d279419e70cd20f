"""`python -m espline.sim.formal [--slow] [NAME ...]`: run the proofs, one line per property set."""

import argparse
import sys

from . import PROOFS
from .runner import SOLVER


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m espline.sim.formal", description=__doc__)
    parser.add_argument("names", nargs="*", help="property sets to run (default: all)")
    parser.add_argument("--slow", action="store_true", help="the deeper bounded runs (make test-slow)")
    args = parser.parse_args(argv)
    chosen = [p for p in PROOFS if not args.names or p.name in args.names]
    if args.slow:
        chosen = [p for p in chosen if p.slow_depth is not None]
    failed = 0
    print(f"{'property set':<20} {'mode':<6} {'depth':>5} {'solver':<10} {'result':<7} {'seconds':>8}  properties")
    for proof in chosen:
        depth = proof.slow_depth if args.slow else proof.depth
        result = proof.run(depth)
        failed += result.status != "PASS"
        print(f"{proof.name:<20} {proof.mode:<6} {depth:>5} {SOLVER:<10} {result.status:<7} {result.seconds:8.1f}  "
              f"{proof.properties}", flush=True)
        if result.status != "PASS":
            print(f"    see {result.workdir}/logfile.txt", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
