"""A rough ranking of the register-to-register paths of a Yosys ``synth_ecp5`` netlist
(docs/synth.md "Ranking paths before placement").

nextpnr prints no path before it routes, and a board top takes 10 to 40 minutes to place. This
model takes seconds. A path starts at a flip-flop's output (0.5 ns after the clock), a block RAM's
output (5.8 ns) or a top-level input (0 ns); each cell on it adds its delay from ``_through``
(a LUT4 0.45 ns, a carry step 0.05 ns, ...) and each net between two cells ``route_ns`` (1 ns by
default), except the dedicated wires inside a slice (carry in, the wide multiplexers' inputs). It
ends at an input of a flip-flop (but its clock), of a block RAM or of a distributed RAM's write
side. The figures rank paths and find the blocks they cross; nextpnr's measure them.

Usage::

    python -m espline.hw.paths build/boards/versa/espline.json              # the worst block by block
    python -m espline.hw.paths NETLIST --worst 5                            # the 5 worst paths, net by net
    python -m espline.hw.paths NETLIST --into appliance.inbound.decap.trailer   # the worst into cells named so
"""

import argparse
import json
import re
import signal
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Netlist", "PathEnd", "main"]

SOURCE_NS = {"TRELLIS_FF": 0.5, "DP16KD": 5.8}
# Inputs that reach their cell over a slice's dedicated wires: no routing hop.
LOCAL_INPUTS = {("CCU2C", "CIN"), ("PFUMX", "ALUT"), ("PFUMX", "BLUT"), ("L6MUX21", "D0"), ("L6MUX21", "D1")}


def _through(cell_type: str, pin_in: str, pin_out: str) -> float | None:
    """Delay from `pin_in` to `pin_out` of a combinational cell, or None where no path runs."""
    if cell_type == "LUT4":
        return 0.45
    if cell_type in ("PFUMX", "L6MUX21"):
        return 0.25
    if cell_type == "CCU2C":
        if pin_in == "CIN":
            return 0.05 if pin_out == "COUT" else 0.3
        return 0.55 if pin_out == "COUT" else 0.5
    if cell_type == "TRELLIS_DPR16X4" and pin_in.startswith("RAD"):  # the asynchronous read port
        return 1.0
    return None


def _is_endpoint(cell_type: str, pin: str) -> bool:
    if cell_type == "TRELLIS_FF":
        return pin != "CLK"
    if cell_type == "TRELLIS_DPR16X4":
        return not pin.startswith("RAD")
    return cell_type not in ("LUT4", "PFUMX", "L6MUX21", "CCU2C")


@dataclass(frozen=True)
class PathEnd:
    """The latest arrival at one endpoint pin, and the nets it came through (arrival ns, name)."""
    ns: float
    cell: str
    pin: str
    nets: tuple[tuple[float, str], ...]


class Netlist:
    """The top module of a Yosys JSON netlist, its nets' drivers, and the model's arrival times."""

    def __init__(self, path, top: str | None = None, route_ns: float = 1.0):
        modules = json.loads(Path(path).read_text())["modules"]
        if top is None:
            tops = [name for name, mod in modules.items() if int(mod.get("attributes", {}).get("top", "0"), 2)]
            if len(tops) != 1:
                raise ValueError(f"{path}: {len(tops)} top modules; name one")
            top = tops[0]
        self.cells = modules[top]["cells"]
        self.route_ns = route_ns
        self.names = {}  # a net bit's most readable name: a visible one before a generated, the shortest
        netnames = modules[top]["netnames"]
        for name, net in sorted(netnames.items(), key=lambda kv: (kv[1].get("hide_name", 0), len(kv[0]))):
            for bit in net["bits"]:
                if isinstance(bit, int):
                    self.names.setdefault(bit, name)
        self.drivers = {}
        for name, cell in self.cells.items():
            for port, bits in cell["connections"].items():
                if cell["port_directions"].get(port) == "output":
                    for bit in bits:
                        if isinstance(bit, int):
                            self.drivers[bit] = (name, port)
        self._arrival = {}  # bit -> (ns at its driver's output, the input bit it came from)

    def _inputs(self, cell):
        for port, bits in cell["connections"].items():
            if cell["port_directions"].get(port) == "input":
                for bit in bits:
                    if isinstance(bit, int):
                        yield port, bit

    def arrival(self, bit: int) -> float:
        """When `bit` settles at its driver's output (iterative: a netlist's logic can be deep)."""
        stack, visiting = [bit], set()  # `visiting`: a combinational loop ends at its first repeat
        while stack:
            top = stack[-1]
            if top in self._arrival:
                stack.pop()
                continue
            name, out_port = self.drivers.get(top, (None, None))
            if name is None:
                self._arrival[top] = (0.0, None)
                stack.pop()
                continue
            cell = self.cells[name]
            arcs = [(port, b, d) for port, b in self._inputs(cell)
                    if (d := _through(cell["type"], port, out_port)) is not None]
            pending = [b for _, b, _ in arcs if b not in self._arrival and b not in visiting]
            if pending:
                visiting.add(top)
                stack.extend(pending)
                continue
            best = (SOURCE_NS.get(cell["type"], 0.0) if not arcs else 0.0, None)
            for port, b, delay in arcs:
                hop = 0.0 if (cell["type"], port) in LOCAL_INPUTS else self.route_ns
                best = max(best, (self._arrival.get(b, (0.0,))[0] + hop + delay, b), key=lambda t: t[0])
            self._arrival[top] = best
            visiting.discard(top)
            stack.pop()
        return self._arrival[bit][0]

    def _nets(self, bit):
        nets = []
        while bit is not None and len(nets) <= len(self._arrival):  # bounded: a loop's links may cycle
            nets.append((self._arrival[bit][0], self.names.get(bit, str(bit))))
            bit = self._arrival[bit][1]
        return tuple(reversed(nets))

    def ends(self) -> list[PathEnd]:
        """Every endpoint pin's latest arrival, latest first."""
        found = []
        for name, cell in self.cells.items():
            for port, bit in self._inputs(cell):
                if _is_endpoint(cell["type"], port) and bit in self.drivers:
                    found.append((self.arrival(bit) + self.route_ns, name, port, bit))
        found.sort(key=lambda e: e[0], reverse=True)
        return [PathEnd(ns, name, port, self._nets(bit)) for ns, name, port, bit in found]


def block_of(cell_name: str, depth: int = 4) -> str:
    """The hierarchy a cell belongs to: its dotted name up to the first generated part, `depth` deep."""
    parts = []
    for part in cell_name.split("."):
        if re.search(r"[_$\[]", part) or part.isdigit():
            break
        parts.append(part)
    return ".".join(parts[:depth]) or "(top)"


def by_block(ends: list[PathEnd], over_ns: float) -> list[tuple[str, PathEnd, int]]:
    """Per block: its worst endpoint and how many of its endpoints arrive after `over_ns`."""
    worst, late = {}, Counter()
    for end in ends:
        block = block_of(end.cell)
        worst.setdefault(block, end)
        late[block] += end.ns > over_ns
    return [(block, end, late[block]) for block, end in worst.items()]


def _describe(end: PathEnd) -> str:
    return f"{end.ns:5.1f} ns  {end.cell} {end.pin}\n" + "\n".join(f"    {ns:5.1f}  {net}" for ns, net in end.nets)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m espline.hw.paths", description=__doc__.splitlines()[0])
    ap.add_argument("netlist", help="a Yosys JSON netlist after synth_ecp5")
    ap.add_argument("--top", help="the top module (default: the one Yosys marks as top)")
    ap.add_argument("--route-ns", type=float, default=1.0, help="routing delay per net between cells")
    ap.add_argument("--over", type=float, default=8.0, help="count endpoints later than this (ns; 8 = 125 MHz)")
    ap.add_argument("--blocks", type=int, default=40, help="how many blocks to list")
    ap.add_argument("--worst", type=int, help="instead: the N worst paths (one per endpoint net), net by net")
    ap.add_argument("--into", metavar="TEXT", help="instead: the worst path into a cell whose name contains TEXT")
    args = ap.parse_args(argv)
    ends = Netlist(args.netlist, args.top, args.route_ns).ends()
    if args.into is not None:
        chosen = [end for end in ends if args.into in end.cell][:1]
        if not chosen:
            ap.error(f"no endpoint cell's name contains {args.into!r}")
    elif args.worst is not None:
        seen, chosen = set(), []
        for end in ends:
            if end.nets[-1][1] not in seen and len(chosen) < args.worst:
                seen.add(end.nets[-1][1])
                chosen.append(end)
    else:
        late = sum(end.ns > args.over for end in ends)
        print(f"{len(ends)} endpoints, {late} later than {args.over} ns; worst per block:")
        print(f"{'ns':>5} {'late':>6}  {'block':<48} {'endpoint':<16} from")
        for block, end, count in by_block(ends, args.over)[:args.blocks]:
            print(f"{end.ns:5.1f} {count:6}  {block:<48} {end.pin:<16} {end.nets[0][1]}")
        return 0
    print("\n".join(_describe(end) for end in chosen))
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quietly, when piped into `head`
    raise SystemExit(main())
