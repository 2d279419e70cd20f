"""The activity LED (espline.hw.activity) against the rule restated: each pulse turns it from its
base level for `hold` cycles, starting two clock edges after the pulse (one to load the timer, one
for the LED's register); a pulse while it is away from the base restarts the count."""

import random

import pytest
from amaranth.sim import Simulator

from espline.hw.activity import Activity

HOLD = 5


def expected(pulses, base, cycle):
    """The LED after clock edge `cycle` (1, 2, ...), pulses given as the cycles (0, 1, ...) they were high in."""
    return base ^ any(p + 2 <= cycle <= p + 1 + HOLD for p in pulses)


@pytest.mark.parametrize("base", [0, 1])
def test_activity_against_the_rule(base):
    rng = random.Random(base)
    pulses = sorted(rng.sample(range(80), 12)) + [90, 91, 92]
    dut = Activity(hold=HOLD)
    seen = []

    async def bench(ctx):
        ctx.set(dut.base, base)
        for cycle in range(110):
            ctx.set(dut.pulse, cycle in pulses)
            await ctx.tick()
            seen.append(ctx.get(dut.led))

    sim = Simulator(dut)
    sim.add_clock(8e-9)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [expected(pulses, base, cycle) for cycle in range(1, 111)]
