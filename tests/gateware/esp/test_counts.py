"""The global counters against a running sum of random pulses from every source, every cycle."""

import random

from amaranth.lib import data

from espline.gateware.esp.counts import NAMES, GlobalCounters
from espline.sim.packetbus import simulate


def test_every_pulse_of_every_source_is_counted():
    rng = random.Random(1)
    sources = 3
    dut = GlobalCounters(data.StructLayout({name: 64 for name in NAMES}), sources)
    total = dict.fromkeys(NAMES, 0)

    async def bench(ctx):
        for cycle in range(200):
            for k in range(sources):
                pulses = {name: int(rng.random() < (0.9 if cycle % 50 < 5 else 0.2)) for name in NAMES}
                ctx.set(dut.counts[k], pulses)
                for name, pulse in pulses.items():
                    total[name] += pulse
            await ctx.tick()
            assert {name: ctx.get(getattr(dut.values, name)) for name in NAMES} == total, cycle

    simulate(dut, bench)
    assert min(total.values()) > 0
