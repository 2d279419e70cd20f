"""The whole appliance in cocotb against the reference model (espline.sim.apptb.bench): seeded
random SA mixes and traffic on all three inputs, random stalls on every port, frames bit-exact
per port and source order, every global and per-SA counter equal to the model's.

Verilator for the main set (>= 10,000 mixed frames; its Path MTU mix, the gigabit build and a
1,000,000-frame run are slow), Icarus for a smaller cross-check (test_appliance_icarus.py, a file
of its own so that the two simulators build and run on two workers); `apptb_run.run` builds each
simulator once under build/cocotb_apptb_appliance_<config>_<simulator>, figures in run_<tag>/result.json.
"""

import pytest
from apptb_run import run


def test_verilator_mixed_4k():
    """4,000 frames of the default mix, valid and ready each low 20% of cycles (`make apptb` and
    the slow suite run a million)."""
    f = run("verilator", "mixed_4k", SEED=1, FRAMES=4_000, MIX="default", VALID_PROB=0.8, READY_PROB=0.8)
    assert sum(f["frames_in"].values()) == 4_000 or f["missing_inputs"]


def test_verilator_hostile_heavy_stalls():
    """Long valid/ready runs (mean 12 cycles) as well as single-cycle ones."""
    run("verilator", "hostile", SEED=2, FRAMES=2000, MIX="hostile", VALID_PROB=0.5, READY_PROB=0.4, BURST=12)


def test_verilator_replay_window_edges():
    """Duplicates, old copies and frames held back until just inside or just outside the window
    (RFC 4303 §3.4.3; with ESN the high half inferred per Appendix A2.2)."""
    run("verilator", "replay", SEED=1, FRAMES=2000, MIX="replay", VALID_PROB=0.9, READY_PROB=0.9)


@pytest.mark.slow
def test_verilator_path_mtu():
    """Too-big DF frames among protected ones: ICMP answers merged into plain_o with the
    decapsulated frames, bit-exact, past the rate limit (docs/model.md)."""
    f = run("verilator", "pmtu", SEED=7, FRAMES=2000, MIX="pmtu", VALID_PROB=0.8, READY_PROB=0.7)
    assert f["counters"]["icmp_sent"] >= 20 and f["counters"]["icmp_limited"] >= 20


def test_verilator_clean_full_rate():
    run("verilator", "clean", SEED=3, FRAMES=1000, MIX="clean", VALID_PROB=1.0, READY_PROB=1.0)


@pytest.mark.slow
def test_verilator_one_million_frames():
    f = run("verilator", "million", SEED=5, FRAMES=1_000_000, MIX="default", VALID_PROB=0.9, READY_PROB=0.9,
            CYCLE_BUDGET=0)
    print(f"1M frames: {f['wall_s']['traffic']:.0f} s, {f['frames_per_s']:.0f} frames/s")


@pytest.mark.slow
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
