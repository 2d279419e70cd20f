"""Running the whole-appliance cocotb bench (espline.sim.apptb.bench) from pytest: one build per
simulator and configuration (build/cocotb_apptb_appliance_<config>_<simulator>), a run per tag
(run_<tag>/result.json). Used by test_appliance_cocotb.py (Verilator) and test_appliance_icarus.py.
"""

import functools
import json
import shutil

import pytest

from espline.sim.apptb.traffic import gateware
from espline.sim.toolchain import BUILD_ROOT, cocotb_build, cocotb_test

MODULE = "espline.sim.apptb.bench"


@functools.cache
def _built(simulator, config):
    name = f"apptb_appliance_{config}"
    return cocotb_build(simulator, lambda: gateware(config), name,
                        BUILD_ROOT / f"cocotb_{name}_{simulator}")


def run(simulator, tag, config="wide", **env):
    """Run ``appliance_random`` with ``APPTB_*`` settings ``env``; its figures (dict)."""
    if simulator == "icarus" and shutil.which("iverilog") is None:
        pytest.skip("iverilog not on PATH")
    runner, build_dir = _built(simulator, config)
    result = build_dir / f"run_{tag}" / "result.json"
    result.unlink(missing_ok=True)
    tests, failed, messages, test_dir = cocotb_test(
        simulator, runner, build_dir, f"apptb_appliance_{config}", MODULE, tag,
        {"APPTB_RESULT": result, "APPTB_CONFIG": config, **{f"APPTB_{k}": v for k, v in env.items()}})
    assert tests == 1 and failed == 0, f"cocotb failed (log in {test_dir}): {' | '.join(messages)}"
    figures = json.loads(result.read_text())
    print(f"{tag}: {sum(figures['frames_in'].values())} frames, {figures['traffic_cycles']} cycles, "
          f"{figures['frames_per_s']:.0f} frames/s, {figures['cycles_per_s']:.0f} cycles/s")
    return figures
