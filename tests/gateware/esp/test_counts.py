"""The global counters against a running sum of random pulses from every source, every cycle:
every counter read back, live, after every cycle; bursts of every pulse at once fill the pending
counts to their limit."""

import random

from espline.gateware.esp.counts import NAMES, GlobalCounters
from espline.sim.packetbus import simulate


def test_every_pulse_of_every_source_is_counted():
    rng = random.Random(1)
    sources = 3
    dut = GlobalCounters(sources)
    total = dict.fromkeys(NAMES, 0)

    async def bench(ctx):
        for cycle in range(300):
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
            assert got == total, cycle

    simulate(dut, bench)
    assert min(total.values()) > 0
