# amaranth: UnusedElaboratable=no
"""The ECP5 delayed DDR input (espline.hw.delayed_input) refuses what the primitive cannot do; its
instances in a board top are checked in tests/hw/test_top.py. (The buffers made here are refused or
measured, never elaborated: hence the first line.)"""

import pytest
from amaranth.hdl import Fragment
from amaranth.lib import io

from espline.hw.delayed_input import DelayedDDRInput


def port(invert=False):
    return io.SimulationPort("i", 4, invert=invert)


@pytest.mark.parametrize("delay", [0.0, 10e-12, 3.2e-9, -1e-9])
def test_delay_out_of_range(delay):
    """DEL_VALUE is 1 to 127 taps of 25 ps: 12.5 ps (rounded to 1 tap) to 3.175 ns."""
    with pytest.raises(ValueError, match="taps of 25 ps"):
        DelayedDDRInput(port(), i_domain="rx", delay=delay)


def test_taps():
    assert DelayedDDRInput(port(), i_domain="rx", delay=2e-9).taps == 80
    assert DelayedDDRInput(port(), i_domain="rx", delay=3.175e-9).taps == 127


def test_inverted_pins_refused():
    with pytest.raises(ValueError, match="inverted"):
        DelayedDDRInput(port(invert=True), i_domain="rx", delay=2e-9)


def test_needs_the_ecp5():
    with pytest.raises(TypeError, match="ECP5"):
        Fragment.get(DelayedDDRInput(port(), i_domain="rx", delay=2e-9), None)
