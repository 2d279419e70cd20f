"""Appliance cycle figures from simulation: `python -m espline.sim.bench appliance`.

Per configuration and direction, back-to-back frames with no stalls through the whole gateware
(programmed through the driver, every output frame checked against the model), for IPv4
packets of 64, 576 and 1500 bytes and simple IMIX (7:4:1 of those): the output bus use at
steady state as a fraction of its limit (ideal cycles = output bytes / 16 bytes per cycle, over
the last three quarters of the frames; likewise the input bus, the limit when decapsulating),
and the first-byte latency of a frame into an idle appliance (cycles from its first input
beat to its first output beat; store-and-forward, so shown also as the part beyond the frame's
own input beats). Exact figures (Amaranth simulator).

`--config gigabit` measures a named build (`espline.gateware.builds`; `--width` overrides its bus
width, `--key-bits 256` uses AES-256 SAs; packets no longer than its MTU less 60 bytes, so
that they are protected: 1440 bytes for "1500" at MTU 1500) and adds the cycles per frame and `1GbE`: the input
rate the appliance keeps up with as a share of a 1 GbE port's at 125 MHz (one byte a cycle, each
frame on the wire 24 bytes longer: FCS, preamble and SFD, inter-frame gap); >= 1 is line rate.
"""

import argparse
import dataclasses
import json
import time

from espline.gateware.builds import BUILDS
from espline.sim.appsim import run
from espline.sim.model import Port
from espline.sim.sites import hosts, two_sites
from espline.sim.traffic import ethernet, ip_packet

WIRE_EXTRA = 24  # bytes a frame takes on a 1 GbE wire beyond the packet bus's: FCS, preamble + SFD, gap
MIXES = {"64": [64], "576": [576], "1500": [1500], "imix": [64] * 7 + [576] * 4 + [1500]}


def workload(direction: str, sizes: list, count: int, key_bits: int = 128):
    """(site, input port, frames): `count` frames cycling through `sizes` (IPv4 total lengths)."""
    site, peer = two_sites("tunnel", key_bits=key_bits)
    a, b = hosts("tunnel")
    plain = [ethernet(ip_packet(sizes[k % len(sizes)], *((a, b) if direction == "encap" else (b, a)), seed=k))
             for k in range(count)]
    if direction == "encap":
        return site, Port.PLAIN, plain
    return site, Port.CIPHER, [peer.process(Port.PLAIN, f).frame for f in plain]


def measure(config: str, direction: str, mix: str, count: int, *, width: int | None = None,
            key_bits: int = 128) -> dict:
    """`config`: an engine ("wide", "compact") with the default build, or a named build (at `width`)."""
    build = BUILDS.get(config)
    if build and width:
        build = dataclasses.replace(build, width=width)

    def dut():
        return build.appliance() if build else None

    out = "cipher_o" if direction == "encap" else "plain_o"
    # a build's MTU bounds the packets it protects (the tunnel's ESP overhead here is at most 57 bytes)
    sizes = [min(size, build.mtu - 60) if build else size for size in MIXES[mix]]
    site, port, frames = workload(direction, sizes, count, key_bits)
    if build:
        site.mtu, site.max_frame = build.mtu, build.max_frame
    r = run(site, {port: frames}, config=config, idle=0, stall=0, dut=dut())
    bus = build.width if build else 16
    if not r.matches():
        raise AssertionError(f"{config} {direction} {mix}: the gateware's frames differ from the model's")
    ends = [c for c, _, last in r.stamps[out] if last]
    start = len(ends) // 4
    out_bytes = sum(len(f) for f in r.got[out.removesuffix("_o")][start + 1:])
    in_bytes = sum(len(f) for f in frames[start + 1:])
    cycles = ends[-1] - ends[start]
    counted = len(ends) - start - 1

    site, port, frames = workload(direction, sizes[-1:], 1, key_bits)  # latency: one frame, idle appliance
    if build:
        site.mtu, site.max_frame = build.mtu, build.max_frame
    r = run(site, {port: frames}, config=config, idle=0, stall=0, dut=dut())
    first_in = next(c for c, first, _ in r.stamps[f"{port.value}_i"] if first)
    first_out = next(c for c, first, _ in r.stamps[out] if first)
    in_beats = -(-len(frames[0]) // bus)
    return {"config": config, "width": bus, "key_bits": key_bits, "direction": direction, "mix": mix, "frames": count,
            "bus_fraction": round(out_bytes / bus / cycles, 3),
            "input_bus_fraction": round(in_bytes / bus / cycles, 3),
            "cycles_per_frame": round(cycles / counted, 1),
            "line_rate_1gbe": round((in_bytes + WIRE_EXTRA * counted) / cycles, 3),
            "latency_frame_bytes": len(frames[0]),
            "latency_cycles": first_out - first_in, "latency_beyond_frame_beats": first_out - first_in - in_beats}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=["wide", "compact", *BUILDS], action="append",
                        help="the GCM engine with the default build, or a named build")
    parser.add_argument("--width", type=int, help="packet bus bytes (a named build's; else 16)")
    parser.add_argument("--key-bits", type=int, choices=[128, 256], default=128)
    parser.add_argument("--mix", choices=list(MIXES), action="append")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    counts = {"64": 32, "576": 12, "1500": 8, "imix": 24}
    rows = []
    print("appliance (Amaranth simulator, exact cycles; bus bytes/cycle as `width`)")
    print(f"{'config':8} {'width':>5} {'direction':9} {'mix':5} {'out bus':>8} {'in bus':>7} {'cyc/frame':>9} "
          f"{'1GbE':>6} {'latency':>8} {'beyond frame':>13}")
    for config in args.config or ["wide", "compact"]:
        for direction in ("encap", "decap"):
            for mix in args.mix or counts:
                count = counts[mix]
                t0 = time.time()
                row = measure(config, direction, mix, count if config == "wide" else max(6, count // 3),
                              width=args.width, key_bits=args.key_bits)
                rows.append(row)
                print(f"{config:8} {row['width']:5} {direction:9} {mix:5} {row['bus_fraction']:8.3f} "
                      f"{row['input_bus_fraction']:7.3f} {row['cycles_per_frame']:9} {row['line_rate_1gbe']:6.3f} "
                      f"{row['latency_cycles']:8} "
                      f"{row['latency_beyond_frame_beats']:13}   ({time.time() - t0:.0f} s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
