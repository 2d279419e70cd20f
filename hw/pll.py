"""The board clock: an ECP5 `EHXPLLL` from the board oscillator to the `sync` domain.

Lattice FPGA-TN-02200 (ECP5 sysCLOCK PLL): f_out = f_in * CLKFB_DIV / CLKI_DIV with feedback from
CLKOP, f_VCO = f_out * CLKOP_DIV; the phase-frequency detector runs at f_in / CLKI_DIV
(3.125 to 400 MHz), the VCO at 400 to 800 MHz. `dividers` chooses exact dividers with the highest
detector frequency, then the VCO nearest the middle of its range, which is what Project Trellis'
`ecppll` chooses (25 -> 125 MHz: 1, 5, 5; 100 -> 125 MHz: 4, 5, 5; `tests/hw/test_pll.py`).
The design above defines the domain (`sync` by default) reset-less (`Pll.reset_less`), and this
block drives its clock. Its reset is the ECP5's global set/reset, as amaranth's own ECP5 platform
does for its default domain: `locked` passes two flip-flops outside the GSR network (`FD1S3AX`,
`GSR="DISABLED"`) in the new clock's domain into an `SGSR`, which holds every other flip-flop at its
initial value until the PLL has locked and releases them synchronously to that clock (nextpnr-ecp5
configures the `SGSR` as the GSR in its synchronous mode; amaranth's
`LatticePlatform.create_missing_domain`). The reset thus takes no fabric routing at all: a reset net
on general routing reached ~20 k flip-flops' `LSR` pins in the gigabit board top, and through a
`DCCA` global buffer it could not be routed by router2 (docs/boards.md "The top"). The design's own
synchronous clears (`LSR` from logic) are untouched. Its frequency constraint is nextpnr-ecp5's,
derived from the input pin's (the LPF's `FREQUENCY PORT` on the oscillator) through the dividers
("Derived frequency constraint of 125.0 MHz"): Yosys renames the output net, so an LPF `FREQUENCY
NET` on it would be ignored.
"""

from fractions import Fraction

from amaranth.hdl import ClockSignal, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Pll", "dividers"]

PFD_MHZ, VCO_MHZ = (3.125, 400), (400, 800)


def dividers(in_mhz: float, out_mhz: float) -> tuple[int, int, int]:
    """(CLKI_DIV, CLKFB_DIV, CLKOP_DIV) for an exact `out_mhz` from `in_mhz`."""
    ratio = Fraction(out_mhz) / Fraction(in_mhz)
    best = None
    for clki in range(1, 129):
        clkfb = ratio * clki
        if clkfb.denominator != 1 or not 1 <= clkfb <= 80 or not PFD_MHZ[0] <= in_mhz / clki <= PFD_MHZ[1]:
            continue
        for clkop in range(1, 129):
            vco = out_mhz * clkop
            if VCO_MHZ[0] <= vco <= VCO_MHZ[1]:
                key = (clki, abs(vco - sum(VCO_MHZ) / 2))
                if best is None or key < best[0]:
                    best = (key, (clki, int(clkfb), clkop))
    if best is None:
        raise ValueError(f"no ECP5 PLL setting makes {out_mhz} MHz from {in_mhz} MHz exactly")
    return best[1]


class Pll(wiring.Component):
    """`clk_in` at `in_hz` -> the `domain` clock at `out_hz`; `locked` (asynchronous to both)."""

    clk_in: In(1)
    locked: Out(1)

    reset_less = True  # the domain has no reset signal: the GSR resets it

    def __init__(self, in_hz: float, out_hz: float = 125e6, *, domain: str = "sync"):
        self.in_hz, self.out_hz, self.domain = in_hz, out_hz, domain
        self.clki_div, self.clkfb_div, self.clkop_div = dividers(in_hz / 1e6, out_hz / 1e6)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        clock = Signal()
        m.submodules.pll = Instance(
            "EHXPLLL",
            a_FREQUENCY_PIN_CLKI=f"{self.in_hz / 1e6:g}", a_FREQUENCY_PIN_CLKOP=f"{self.out_hz / 1e6:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
            p_CLKI_DIV=self.clki_div, p_CLKFB_DIV=self.clkfb_div, p_FEEDBK_PATH="CLKOP",
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=self.clkop_div, p_CLKOP_CPHASE=self.clkop_div // 2,
            p_CLKOP_FPHASE=0,
            i_CLKI=self.clk_in, i_CLKFB=clock, o_CLKOP=clock, o_LOCK=self.locked,
            i_RST=0, i_STDBY=0, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
        )
        m.d.comb += ClockSignal(self.domain).eq(clock)
        locked = [self.locked, *(Signal(name=f"locked_{n}") for n in range(2))]  # into the clock's domain
        for n in range(2):
            m.submodules[f"lock_sync_{n}"] = Instance("FD1S3AX", p_GSR="DISABLED", i_CK=clock,
                                                      i_D=locked[n], o_Q=locked[n + 1])
        m.submodules.reset = Instance("SGSR", i_CLK=clock, i_GSR=locked[-1])  # active low
        return m
