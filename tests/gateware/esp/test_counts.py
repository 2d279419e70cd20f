"""The global counters against a running sum of random pulses from every source, every cycle:
every counter read back, live, after every cycle (all pulses up to the cycle before); bursts of
every pulse at once fill the pending counts to their limit."""

import random

from espline.gateware.esp.counts import NAMES, GlobalCounters
from espline.sim.packetbus import simulate


def test_every_pulse_of_every_source_is_counted():
    rng = random.Random(1)
    sources = 3
    dut = GlobalCounters(sources)
    total, before = dict.fromkeys(NAMES, 0), dict.fromkeys(NAMES, 0)  # up to now; up to the cycle before

    async def bench(ctx):
        for cycle in range(300):
            before.update(total)
            for k in range(sources):
                pulses = {name: int(rng.random() < (1 if cycle % 100 < 50 else 0.2)) for name in NAMES}
                ctx.set(dut.counts[k], pulses)
                for name, pulse in pulses.items():
                    total[name] += pulse
            await ctx.tick()
            got = {}
            for index, name in enumerate(NAMES):
                ctx.set(dut.read.index, index)
                got[name] = ctx.get(dut.read.value)
            assert got == before, cycle  # the pulses of this cycle are still in their registers
        for k in range(sources):
            ctx.set(dut.counts[k], dict.fromkeys(NAMES, 0))
        await ctx.tick().repeat(2)
        for index, name in enumerate(NAMES):
            ctx.set(dut.read.index, index)
            assert ctx.get(dut.read.value) == total[name]

    simulate(dut, bench)
    assert min(total.values()) > 0
