"""The whole appliance in Icarus, a second simulator, against the reference model: a smaller
cross-check of the Verilator set (test_appliance_cocotb.py)."""

import pytest
from apptb_run import run


@pytest.mark.slow
def test_icarus_cross_check():
    run("icarus", "cross_check", SEED=4, FRAMES=100, MIX="default", VALID_PROB=0.7, READY_PROB=0.7)
