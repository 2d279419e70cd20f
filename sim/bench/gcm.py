"""GCM engine cycle figures from simulation: `python -m espline.sim.bench gcm`.

Workload: back-to-back 1500-byte ESP-shaped packets (AAD 8 bytes, ICV 16 bytes), keys
alternating AES-128 / AES-256 per packet, no stalls, every output beat checked against
`cryptography`. Runs the Amaranth simulator (exact cycles; no external simulator needed).
"""

import argparse
import time
from collections import Counter

from espline.gateware.crypto.gcm import GCM
from espline.sim.gcmtb.packets import throughput_packets
from espline.sim.gcmtb.pysim import run_gcm

SIZE = 1500
BLOCKS = -(-SIZE // 16)     # 94 payload beats per packet


def measure(config, n_packets, decrypt=False):
    """Figures for one configuration (dict)."""
    packets = throughput_packets(n_packets, SIZE, decrypt=decrypt)
    t0 = time.time()
    st = run_gcm(GCM(config), packets)
    wall = time.time() - t0
    per_in = BLOCKS + (1 if decrypt else 0)
    per_out = BLOCKS + 1
    ins, outs = st["i"], st["o"]
    firsts = [ins[k * per_in] for k in range(n_packets)]
    lasts = [ins[k * per_in + per_in - 1] for k in range(n_packets)]
    inner = Counter()
    for k in range(n_packets):
        seg = ins[k * per_in: k * per_in + BLOCKS]
        inner.update(f"{'AES-128' if k % 2 == 0 else 'AES-256'}:{b - a}" for a, b in zip(seg, seg[1:], strict=False))
    periods = [firsts[k + 1] - firsts[k] for k in range(n_packets - 1)]
    return {
        "config": config, "direction": "decrypt" if decrypt else "encrypt", "packets": n_packets,
        "cycles_per_block_in_packet": sorted(inner),
        "packet_period_cycles": periods,
        "idle_cycles_between_packets": [firsts[k + 1] - lasts[k] - 1 for k in range(n_packets - 1)],
        "latency_first_beat": [outs[k * per_out] - firsts[k] for k in range(n_packets)],
        "latency_tag": [outs[k * per_out + per_out - 1] - lasts[k] for k in range(n_packets)],
        "wall_s": wall,
    }


def report(r):
    pairs = r["packet_period_cycles"]
    print(f"gcm {r['config']:8s} {r['direction']}, {r['packets']} x {SIZE} B back to back, keys alternating "
          f"AES-128/AES-256 (simulated {r['wall_s']:.0f} s)")
    print(f"  cycles per 16-byte block within a packet: {', '.join(r['cycles_per_block_in_packet'])} "
          "(key size: cycles between consecutive input beats)")
    print(f"  packet period (first beat to next first beat): {pairs} cycles for {BLOCKS} blocks")
    for p in sorted(set(pairs)):
        print(f"    {p} cycles: {BLOCKS / p:.3f} blocks/cycle = {SIZE * 8 / p:.2f} bit/cycle "
              f"= {SIZE * 8 / p * 0.125:.2f} Gbit/s at 125 MHz; {p / (BLOCKS + 2):.2f} cycles per AES block "
              f"(H, {BLOCKS} counter blocks, E_K(J0))")
    print(f"  idle input cycles between packets: {r['idle_cycles_between_packets']}")
    print(f"  latency first input beat -> first output beat: {r['latency_first_beat']} cycles")
    print(f"  latency last input beat -> tag beat: {r['latency_tag']} cycles")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=4)
    ap.add_argument("--config", choices=["wide", "compact"], action="append")
    ap.add_argument("--decrypt", action="store_true", help="also measure the decrypt direction")
    args = ap.parse_args(argv)
    for config in args.config or ["wide", "compact"]:
        report(measure(config, args.packets))
        if args.decrypt:
            report(measure(config, args.packets, decrypt=True))


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
