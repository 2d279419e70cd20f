"""The PLL's divider choice (espline.hw.pll) against Project Trellis' `ecppll`: its output for
25 -> 125 MHz and 100 -> 125 MHz (yowasp-ecppll -i 25 -o 125, -i 100 -o 125) and the 12 -> 16 MHz
PLL it generated for olofk/serv (`servant/ecp5_evn_pll.v`)."""

import pytest
from amaranth.back import rtlil
from amaranth.hdl import ClockDomain, Module, Signal

from espline.hw.pll import Pll, dividers


@pytest.mark.parametrize("fin, fout, expected", [(25, 125, (1, 5, 5)), (100, 125, (4, 5, 5)), (12, 16, (3, 4, 37))])
def test_dividers_as_ecppll(fin, fout, expected):
    assert dividers(fin, fout) == expected
    clki, clkfb, clkop = expected
    assert fin * clkfb / clki == fout and 400 <= fout * clkop <= 800


def test_no_exact_setting():
    with pytest.raises(ValueError):
        dividers(25, 0.001)


def test_instance_parameters():
    m = Module()
    m.domains.sync = ClockDomain()  # the design above the PLL defines the domain it drives
    m.submodules.pll = pll = Pll(25e6, 125e6)
    text = rtlil.convert(m, name="top", ports=[pll.clk_in, pll.locked])
    for parameter in ("CLKI_DIV 1", "CLKFB_DIV 5", "CLKOP_DIV 5", "CLKOP_CPHASE 2", 'FEEDBK_PATH "CLKOP"'):
        assert f"parameter \\{parameter}" in text


def test_reset_through_a_global_buffer():
    """The domain's reset (the `rst` output of the PLL's module, driving the top's flip-flop) is the
    synchronizer's output through a DCCA: a global network."""
    m = Module()
    m.domains.sync = ClockDomain()
    m.submodules.pll = pll = Pll(25e6, 125e6)
    flop = Signal()
    m.d.sync += flop.eq(1)
    text = rtlil.convert(m, name="top", ports=[pll.clk_in, pll.locked, flop])
    pll_module = text.split("module \\top.pll\n")[1].split("\nend\n")[0]
    assert "output" in pll_module.split("\\rst\n")[0].splitlines()[-1]  # `wire width 1 output N \rst`
    dcca = pll_module.split("cell \\DCCA ")[1].split("  end")[0]
    assert "connect \\CLKO \\rst\n" in dcca and "connect \\CLKI \\unbuffered_rst" in dcca
    assert pll_module.count("\\rst\n") == 2  # declared, driven by the DCCA only
