"""The whole appliance in cocotb against the reference model (espline.sim.apptb.bench): seeded
random SA mixes and traffic on all three inputs, random stalls on every port, frames bit-exact
per port and source order, every global and per-SA counter equal to the model's.

Verilator for the main set (>= 10,000 mixed frames), Icarus for a smaller cross-check, and a
slow 1,000,000-frame run. Each simulator's build is made once per session under
build/cocotb_apptb_appliance_<config>_<simulator>; figures land in run_<tag>/result.json.
"""

import functools
import json
import shutil
import xml.etree.ElementTree as ET

import pytest

from espline.sim.apptb.traffic import gateware
from espline.sim.toolchain import BUILD_ROOT, cocotb_build, toolchain_env

MODULE = "espline.sim.apptb.bench"


@functools.cache
def _built(simulator, config):
    name = f"apptb_appliance_{config}"
    return cocotb_build(simulator, lambda: gateware(config), name,
                        BUILD_ROOT / f"cocotb_{name}_{simulator}")


def run(simulator, tag, config="wide", **env):
    """Run ``appliance_random`` with ``APPTB_*`` settings ``env``; its figures (dict)."""
    from cocotb_tools.check_results import get_results

    if simulator == "icarus" and shutil.which("iverilog") is None:
        pytest.skip("iverilog not on PATH")
    runner, build_dir = _built(simulator, config)
    test_dir = build_dir / f"run_{tag}"
    test_dir.mkdir(exist_ok=True)
    result = test_dir / "result.json"
    result.unlink(missing_ok=True)
    xml = test_dir / "results.xml"
    xml.unlink(missing_ok=True)
    with toolchain_env(simulator):
        try:
            runner.test(test_module=MODULE, hdl_toplevel=f"apptb_appliance_{config}", hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=test_dir, results_xml=str(xml),
                        extra_env={"APPTB_RESULT": str(result), "APPTB_CONFIG": config,
                                   **{f"APPTB_{k}": str(v) for k, v in env.items()}})
        except SystemExit:  # cocotb's runner under pytest exits on a failed test: show why instead
            pass
    tests, failed = get_results(xml)
    messages = [f.get("message", "") for f in ET.parse(xml).iter("failure")]
    assert tests == 1 and failed == 0, f"cocotb failed (log in {test_dir}): {' | '.join(messages)}"
    figures = json.loads(result.read_text())
    print(f"{tag}: {sum(figures['frames_in'].values())} frames, {figures['traffic_cycles']} cycles, "
          f"{figures['frames_per_s']:.0f} frames/s, {figures['cycles_per_s']:.0f} cycles/s")
    return figures


def test_verilator_mixed_10k():
    """10,000 frames of the default mix, valid and ready each low 20% of cycles."""
    f = run("verilator", "mixed_10k", SEED=1, FRAMES=10_000, MIX="default", VALID_PROB=0.8, READY_PROB=0.8)
    assert sum(f["frames_in"].values()) == 10_000 or f["missing_inputs"]


def test_verilator_hostile_heavy_stalls():
    """Long valid/ready runs (mean 12 cycles) as well as single-cycle ones."""
    run("verilator", "hostile", SEED=2, FRAMES=2000, MIX="hostile", VALID_PROB=0.5, READY_PROB=0.4, BURST=12)


def test_verilator_replay_window_edges():
    """Duplicates, old copies and frames held back until just inside or just outside the window
    (RFC 4303 §3.4.3; with ESN the high half inferred per Appendix A2.2)."""
    run("verilator", "replay", SEED=1, FRAMES=2000, MIX="replay", VALID_PROB=0.9, READY_PROB=0.9)


def test_verilator_path_mtu():
    """Too-big DF frames among protected ones: ICMP answers merged into plain_o with the
    decapsulated frames, bit-exact, past the rate limit (docs/model.md)."""
    f = run("verilator", "pmtu", SEED=7, FRAMES=2000, MIX="pmtu", VALID_PROB=0.8, READY_PROB=0.7)
    assert f["counters"]["icmp_sent"] >= 20 and f["counters"]["icmp_limited"] >= 20


def test_verilator_clean_full_rate():
    run("verilator", "clean", SEED=3, FRAMES=1000, MIX="clean", VALID_PROB=1.0, READY_PROB=1.0)


def test_icarus_cross_check():
    run("icarus", "cross_check", SEED=4, FRAMES=200, MIX="default", VALID_PROB=0.7, READY_PROB=0.7)


@pytest.mark.slow
def test_verilator_one_million_frames():
    f = run("verilator", "million", SEED=5, FRAMES=1_000_000, MIX="default", VALID_PROB=0.9, READY_PROB=0.9,
            CYCLE_BUDGET=0)
    print(f"1M frames: {f['wall_s']['traffic']:.0f} s, {f['frames_per_s']:.0f} frames/s")


def test_verilator_gigabit_build():
    """The gigabit build (espline.gateware.builds.GIGABIT: compact engines, a 4-byte bus, 16 SAs,
    8 policies, MTU 1500): a few hundred frames of the default mix."""
    run("verilator", "gigabit", config="gigabit", SEED=8, FRAMES=300, MIX="default", VALID_PROB=0.8, READY_PROB=0.8)


@pytest.mark.slow
def test_verilator_gigabit_build_long():
    run("verilator", "gigabit_long", config="gigabit", SEED=9, FRAMES=5000, MIX="hostile", VALID_PROB=0.7,
        READY_PROB=0.7, BURST=4)


@pytest.mark.slow
def test_verilator_compact_config():
    """The compact GCM engine (fewer LUTs, more cycles per block) behind the same appliance."""
    run("verilator", "compact", config="compact", SEED=6, FRAMES=3000, MIX="default", VALID_PROB=0.8, READY_PROB=0.8)
