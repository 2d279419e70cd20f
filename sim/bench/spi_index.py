"""How full the SA table gets before the SPI index first refuses an inbound SA (docs/sa-table.md).

Per N_SA: trials of random SPIs (seeded) inserted as the hardware inserts them, each until the
first refusal or a full table; the fraction of N_SA placed: mean, worst, and the share of trials
that filled the table. Exact for the rule the gateware follows (tests/gateware/esp/test_spi_index.py).
"""

import argparse
import random
import statistics

from espline.regmap.spi_index import SpiIndex


def fill(n_sa: int, seed: int) -> float:
    rng, index, placed = random.Random(seed), SpiIndex(n_sa), 0
    while placed < n_sa and index.insert(rng.getrandbits(32), placed):
        placed += 1
    return placed / n_sa


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m espline.sim.bench spi_index", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    args, _ = parser.parse_known_args(argv)
    print(f"SPI index occupancy before the first refusal, {args.trials} trials of random SPIs per N_SA")
    print(f"{'N_SA':>6} {'mean':>8} {'worst':>8} {'filled':>8}")
    for n_sa in (16, 64, 256, 1024):
        fills = [fill(n_sa, seed) for seed in range(args.trials)]
        print(f"{n_sa:>6} {statistics.mean(fills):>8.2%} {min(fills):>8.2%} "
              f"{sum(f == 1 for f in fills) / len(fills):>8.1%}")
