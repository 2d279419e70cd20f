"""The event FIFO under random events and pops: the host reads the events it kept in order, the
head reads as `none` when empty, an event is lost only when the FIFO holds `depth` (a pop in the
same cycle makes no room) and each loss pulses `overflow`."""

import random

import pytest
from amaranth.lib import data

from espline.gateware.csr.events import EventQueue
from espline.sim.packetbus import simulate

EVENT = data.StructLayout({"kind": 3, "index": 8})


def run(depth, rng, event_prob, pop_prob, cycles):
    """Events (kind 1..7) at random, pops at random, then pops until empty; per event whether it
    was kept, with the number held when it came; the heads popped."""
    dut = EventQueue(EVENT, depth)
    offered, popped, held = [], [], [0]

    async def bench(ctx):
        for cycle in range(cycles + 4 * depth):
            event = {"kind": rng.randint(1, 7), "index": rng.randrange(256)} if (
                cycle < cycles and rng.random() < event_prob) else None
            pop = rng.random() < pop_prob or cycle >= cycles
            ctx.set(dut.events.valid, event is not None)
            if event:
                ctx.set(dut.events.payload, event)
            ctx.set(dut.pop, pop)
            _, _, pending, head, overflow, ready = await ctx.tick().sample(dut.pending, dut.head, dut.overflow,
                                                                          dut.events.ready)
            assert ready
            if not pending:
                assert head.kind == 0  # `none`
            if event:
                offered.append((event, not overflow, held[0]))  # held before this cycle's pop
                held[0] += not overflow
            else:
                assert not overflow
            if pending and pop:
                popped.append({"kind": int(head.kind), "index": int(head.index)})
                held[0] -= 1

    simulate(dut, bench)
    return offered, popped


@pytest.mark.parametrize("depth", [4, 16])
def test_kept_events_come_out_in_order_and_losses_are_flagged(depth):
    rng = random.Random(depth)
    offered, popped = run(depth, rng, event_prob=0.5, pop_prob=0.35, cycles=600)
    assert popped == [e for e, kept, _ in offered if kept]
    lost = [n for _, kept, n in offered if not kept]
    assert lost and all(n == depth for n in lost)


def test_a_burst_without_pops_keeps_a_fifos_worth():
    rng = random.Random(3)
    offered, popped = run(8, rng, event_prob=1.0, pop_prob=0.0, cycles=20)
    assert popped == [e for e, kept, _ in offered if kept] and len(popped) == 8
