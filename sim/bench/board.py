"""Line rate on the board top: `python -m espline.sim.bench board [--board colorlight-i9] [--paced]`.

One board (`espline.sim.boardsim`, the gigabit build in Verilator, frames on its RGMII pins,
programmed from docs/examples/site-a.toml over its UART) with both ports fed back to back at
1 Gb/s at once: plaintext on the LAN (encapsulated out of the WAN) and site B's ESP on the WAN
(decapsulated out of the LAN), for IPv4 packets of 64, 576 and 1500 bytes (1440: the build's
MTU less 60) and IMIX (7:4:1). Per direction: frames in and out per second of simulated time,
how much of the output line the frames out use, and the drops by reason, from the MAC counters
(board registers) and the appliance's (read over the UART before and after each mix).
Cycle-exact: the figures are simulated time, not wall time. `--paced`: the LAN's interpacket gap
is widened by what encapsulation adds to the mix's largest frame, so that its ESP fits the WAN.
"""

import argparse
import json

from espline.sim.boardsim.run import simulate

DEFAULT_PLAN = "64:1000,576:600,1500:400,imix:600"


def table(rows: list[dict]) -> list[str]:
    lines = [f"{'mix':5} {'direction':18} {'in':>5} {'out':>5} {'in frames/s':>12} {'out frames/s':>13} "
             f"{'out line':>9}  drops"]
    for row in rows:
        for name, what in (("lan", "LAN->WAN (encap)"), ("wan", "WAN->LAN (decap)")):
            d = row[name]
            drops = {k.split(".", 1)[1]: v for k, v in row["mac_drops"].items() if k.startswith(name)}
            if name == "lan":  # the appliance's drops, once (all zero unless a frame was refused)
                drops.update(row["appliance_drops"])
            lines.append(f"{row['mix']:5} {what:18} {d['in']:5} {d['out']:5} {d['in_fps']:12,} {d['out_fps']:13,} "
                         f"{d['out_wire_use']:9.3f}  {drops or 'none'}")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="colorlight-i9")
    parser.add_argument("--plan", default=DEFAULT_PLAN, help="mix:frames per port, comma-separated")
    parser.add_argument("--paced", action="store_true", help="the LAN paced so that its ESP fits the WAN's line")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    print(f"board line rate ({args.board}, gigabit build, Verilator; both ports at once, "
          f"{'LAN paced to the WAN' if args.paced else 'both inputs back to back at 1 Gb/s'})")
    r = simulate(args.board, "line_rate", {"BOARDSIM_MIXES": args.plan, "BOARDSIM_PACED": str(int(args.paced))},
                 "bench-paced" if args.paced else "bench")
    if r is None:
        raise SystemExit("the board bench ended without a result: see its log")
    print("\n".join(table(r["rows"])))
    print(f"{r['cycles']} cycles simulated in {r['wall_s']:.0f} s ({r['cycles'] / r['wall_s']:.0f} cycles/s); "
          f"frames checked: the LAN's output in order against site B's plaintext, the WAN's decrypted by "
          f"site B's model" + (f"; ERRORS: {r['errors']}" if r["errors"] else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    if r["errors"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
