"""The counter memory against a running sum of random pulses: stretches in which every counter
pulses every cycle (from the reset on: the pending counts at their limit) and sparser ones; reads
of random counters, one after another, each answered within a turn (`n` cycles) with the count of
every pulse up to two cycles before, wrapping at `width` bits; then, pulses stopped, every counter."""

import random

import pytest

from espline.gateware.counter_memory import CounterMemory
from espline.sim.packetbus import simulate


@pytest.mark.parametrize("n, width", [(3, 32), (4, 32), (5, 4), (19, 32)])
def test_every_pulse_is_counted(n, width):
    rng = random.Random(n)
    dut = CounterMemory(n, width)
    total, before, answered, waits = [0] * n, [0] * n, [], []  # the pulses so far, before the last cycle
    pulsing = 1000  # cycles of pulses; then no more, and every counter read

    async def bench(ctx):
        reads = [rng.randrange(n) for _ in range(pulsing)]  # more than are answered while pulsing
        asked, cycle = 0, 0
        while reads:
            ctx.set(dut.read.index, reads[0])
            if ctx.get(dut.read.valid):  # the value counts the pulses before the last cycle's
                index = reads.pop(0)
                answered.append((index, ctx.get(dut.read.value), before[index] % (1 << width)))
                waits.append(cycle - asked)
                asked = cycle + 1
            if cycle == pulsing:
                reads = list(range(n))
            density = 0 if cycle >= pulsing else 1 if cycle % 200 < 60 else 0.1
            pulses = [int(rng.random() < density) for _ in range(n)]
            ctx.set(dut.pulses, sum(p << k for k, p in enumerate(pulses)))
            before[:], total[:] = total, [t + p for t, p in zip(total, pulses, strict=True)]
            await ctx.tick()
            cycle += 1

    simulate(dut, bench, cycles=5000)
    assert [a for a in answered if a[1] != a[2]] == []
    assert sorted(index for index, _, _ in answered[-n:]) == list(range(n))
    assert min(total) > 2 << width if width < 8 else min(total) > 300  # wrapped, twice, at 4 bits
    assert waits[0] <= n + 1 and max(waits[1:]) < n and len(answered) > 1000 // n  # the first turn 2 cycles on
