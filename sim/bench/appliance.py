"""Appliance cycle figures from simulation: `python -m espline.sim.bench appliance`.

Per configuration and direction, back-to-back frames with no stalls through the whole gateware
(programmed through the driver, every output frame checked against the model), for IPv4
packets of 64, 576 and 1500 bytes and simple IMIX (7:4:1 of those): the output bus use at
steady state as a fraction of its limit (ideal cycles = output bytes / 16 bytes per cycle, over
the last three quarters of the frames; likewise the input bus, the limit when decapsulating),
and the first-byte latency of a frame into an idle appliance (cycles from its first input
beat to its first output beat; store-and-forward, so shown also as the part beyond the frame's
own input beats). Exact figures (Amaranth simulator).
"""

import argparse
import json
import time

from espline.sim.appsim import run
from espline.sim.model import Port
from espline.sim.sites import hosts, two_sites
from espline.sim.traffic import ethernet, ip_packet

WIDTH = 16
MIXES = {"64": [64], "576": [576], "1500": [1500], "imix": [64] * 7 + [576] * 4 + [1500]}


def workload(direction: str, sizes: list, count: int):
    """(site, input port, frames): `count` frames cycling through `sizes` (IPv4 total lengths)."""
    site, peer = two_sites("tunnel")
    a, b = hosts("tunnel")
    plain = [ethernet(ip_packet(sizes[k % len(sizes)], *((a, b) if direction == "encap" else (b, a)), seed=k))
             for k in range(count)]
    if direction == "encap":
        return site, Port.PLAIN, plain
    return site, Port.CIPHER, [peer.process(Port.PLAIN, f).frame for f in plain]


def measure(config: str, direction: str, mix: str, count: int) -> dict:
    out = "cipher_o" if direction == "encap" else "plain_o"
    site, port, frames = workload(direction, MIXES[mix], count)
    r = run(site, {port: frames}, config=config, idle=0, stall=0)
    if not r.matches():
        raise AssertionError(f"{config} {direction} {mix}: the gateware's frames differ from the model's")
    ends = [c for c, _, last in r.stamps[out] if last]
    start = len(ends) // 4
    out_bytes = sum(len(f) for f in r.got[out.removesuffix("_o")][start + 1:])
    in_bytes = sum(len(f) for f in frames[start + 1:])
    cycles = ends[-1] - ends[start]

    site, port, frames = workload(direction, MIXES[mix][-1:], 1)  # latency: one frame, idle appliance
    r = run(site, {port: frames}, config=config, idle=0, stall=0)
    first_in = next(c for c, first, _ in r.stamps[f"{port.value}_i"] if first)
    first_out = next(c for c, first, _ in r.stamps[out] if first)
    in_beats = -(-len(frames[0]) // WIDTH)
    return {"config": config, "direction": direction, "mix": mix, "frames": count,
            "bus_fraction": round(out_bytes / WIDTH / cycles, 3),
            "input_bus_fraction": round(in_bytes / WIDTH / cycles, 3),
            "latency_frame_bytes": len(frames[0]),
            "latency_cycles": first_out - first_in, "latency_beyond_frame_beats": first_out - first_in - in_beats}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["wide", "compact"], action="append")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    counts = {"64": 32, "576": 12, "1500": 8, "imix": 24}
    rows = []
    print("appliance (Amaranth simulator, exact cycles; bus = 16 bytes/cycle)")
    print(f"{'config':8} {'direction':9} {'mix':5} {'out bus':>8} {'in bus':>7} {'latency':>8} {'beyond frame':>13}")
    for config in args.config or ["wide", "compact"]:
        for direction in ("encap", "decap"):
            for mix, count in counts.items():
                t0 = time.time()
                row = measure(config, direction, mix, count if config == "wide" else max(6, count // 3))
                rows.append(row)
                print(f"{config:8} {direction:9} {mix:5} {row['bus_fraction']:8.3f} {row['input_bus_fraction']:7.3f} "
                      f"{row['latency_cycles']:8} "
                      f"{row['latency_beyond_frame_beats']:13}   ({time.time() - t0:.0f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
