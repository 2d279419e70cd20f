"""The replay-window gateware against the reference model's window, decision for decision."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from espline.gateware.esp.replay import ReplayWindow, ring_blocks, started_at, state_layout
from espline.sim.model import ReplayWindow as ModelWindow


def streams(window, esn, rng, steps=1000):
    """Sequence numbers as a receiver sees them: mostly rising, some reordered, duplicated, very
    old, far ahead, zero; with ESN they start below a 2^32 boundary and cross it. The window
    starts at `start` - 1 (replay-seq), so the numbers before `start` are replays."""
    start = (5 << 32) - 3 * window if esn else 2 * window + 7
    seq, out = start, []
    for _ in range(steps):
        r = rng.random()
        if r < 0.55:
            seq += rng.randint(1, 3)
            out.append(seq)
        elif r < 0.75:
            out.append(max(1, seq - rng.randint(0, window + 40)))  # reordered or too old
        elif r < 0.85 and out:
            out.append(rng.choice(out[-20:]))  # duplicate
        elif r < 0.95:
            seq += rng.randint(window // 2, 3 * window)  # a jump (lost packets)
            out.append(seq)
        else:
            out.append(0 if not esn else seq - (seq & 0xFFFFFFFF))  # zero low half
    return out, start


@pytest.mark.parametrize("window,size", [(32, 32), (64, 64), (128, 128), (200, 200), (1024, 1024),
                                         (128, 1), (128, 40), (128, 100), (1024, 129)])
@pytest.mark.parametrize("esn", [False, True])
def test_matches_the_model(window, size, esn):
    """`window`: the hardware's (a build parameter); `size`: the SA's."""
    m = Module()
    m.submodules.dut = dut = ReplayWindow(window)
    first_top = Signal(64)
    fresh = Signal(state_layout(window))
    m.d.comb += fresh.eq(started_at(window, first_top))  # a new SA's window, as the SA table starts it
    rng = random.Random(window * 2 + esn + size)
    window = size
    sequence, start = streams(window, esn, rng)
    model = ModelWindow(window, esn, top=start - 1)  # every number up to start - 1 taken as received

    async def bench(ctx):
        ctx.set(first_top, start - 1)
        state = {"top": ctx.get(fresh.top), "bitmap": ctx.get(fresh.bitmap)}
        ctx.set(dut.esn, esn)
        ctx.set(dut.size, size)
        for received in sequence:
            ctx.set(dut.state, state)
            ctx.set(dut.seq_low, received & 0xFFFFFFFF)
            expect_seq = model.infer(received & 0xFFFFFFFF)
            expect_fresh = model.check(expect_seq)
            assert ctx.get(dut.fresh) == expect_fresh, (hex(received), hex(model.top))
            if expect_fresh:
                assert ctx.get(dut.seq) == expect_seq
                model.update(expect_seq)
                nxt = ctx.get(dut.next_state)
                state["top"], state["bitmap"] = nxt.top, nxt.bitmap
                assert state["top"] == model.top

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()


def test_ring_sizes():
    assert [ring_blocks(w) for w in (1, 32, 64, 96, 128, 1024)] == [2, 2, 4, 4, 8, 64]
