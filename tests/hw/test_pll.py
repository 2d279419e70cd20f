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
    m.domains.sync = ClockDomain(reset_less=Pll.reset_less)  # the design above defines the domain
    m.submodules.pll = pll = Pll(25e6, 125e6)
    text = rtlil.convert(m, name="top", ports=[pll.clk_in, pll.locked])
    for parameter in ("CLKI_DIV 1", "CLKFB_DIV 5", "CLKOP_DIV 5", "CLKOP_CPHASE 2", 'FEEDBK_PATH "CLKOP"'):
        assert f"parameter \\{parameter}" in text


def _cell(module_text, kind, name):
    return module_text.split(f"cell \\{kind} \\{name}\n")[1].split("  end")[0]


def test_reset_by_the_global_set_reset():
    """`sync` has no reset net (on general routing, the board top's reached ~20 k flip-flops' `LSR`
    pins): its flip-flops are plain `$dff`s with initial values, which the GSR restores. `locked`
    reaches the `SGSR` through two flip-flops of the PLL's clock kept off the GSR network (on it,
    the GSR would hold them, and so itself, in reset for ever)."""
    m = Module()
    m.domains.sync = ClockDomain(reset_less=Pll.reset_less)
    m.submodules.pll = pll = Pll(25e6, 125e6)
    flop = Signal(init=1)
    m.d.sync += flop.eq(~flop)
    text = rtlil.convert(m, name="top", ports=[pll.clk_in, pll.locked, flop])
    top, pll_module = text.split("module \\top.pll\n")
    assert "cell $dff " in top and "rst" not in text and "$adff" not in text and "$sdff" not in text
    first, second = _cell(pll_module, "FD1S3AX", "lock_sync_0"), _cell(pll_module, "FD1S3AX", "lock_sync_1")
    sgsr = _cell(pll_module, "SGSR", "reset")
    assert "connect \\D \\locked [0]" in first and "connect \\Q \\locked_0" in first
    assert "connect \\D \\locked_0 [0]" in second and "connect \\Q \\locked_1" in second
    assert all('parameter \\GSR "DISABLED"' in ff and "connect \\CK \\clk [0]" in ff for ff in (first, second))
    assert "connect \\GSR \\locked_1 [0]" in sgsr and "connect \\CLK \\clk [0]" in sgsr
