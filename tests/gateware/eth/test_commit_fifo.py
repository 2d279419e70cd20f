"""The commit FIFO against a plain restatement: words written since the last commit or discard
are readable only once committed, gone if discarded; the space counts uncommitted words."""

import random

from espline.gateware.eth.commit_fifo import CommitFifo
from espline.sim.packetbus import collect, simulate


def test_only_committed_words_come_out_in_order():
    rng = random.Random(1)
    dut = CommitFifo(16, depth=8)
    expected, pending, got = [], [], []

    async def writer(ctx):
        for _ in range(3000):
            valid, word = rng.random() < 0.7, rng.randrange(1 << 16)
            commit = rng.random() < 0.15
            discard = not commit and rng.random() < 0.05
            ctx.set(dut.w.valid, valid)
            ctx.set(dut.w.payload, word)
            ctx.set(dut.commit, commit)
            ctx.set(dut.discard, discard)
            _, _, ready = await ctx.tick().sample(dut.w.ready)
            if valid and ready:
                pending.append(word)
            if commit or discard:
                expected.extend(pending if commit else [])
                pending.clear()
        ctx.set(dut.w.valid, 0)
        ctx.set(dut.commit, 1)
        await ctx.tick()
        expected.extend(pending)
        ctx.set(dut.commit, 0)
        await ctx.tick().repeat(100)

    async def reader(ctx):
        await collect(ctx, dut.r, got, rng, 0.4)

    simulate(dut, writer, background=[reader])
    assert got == expected and len(expected) > 500


def test_uncommitted_words_fill_the_fifo_and_stay_hidden():
    dut = CommitFifo(8, depth=8)
    accepted, seen = [], []

    async def writer(ctx):
        for word in range(12):
            ctx.set(dut.w.valid, 1)
            ctx.set(dut.w.payload, word)
            _, _, ready, valid = await ctx.tick().sample(dut.w.ready, dut.r.valid)
            accepted.append(ready)
            seen.append(valid)

    simulate(dut, writer)
    assert accepted == [1] * 8 + [0] * 4 and not any(seen)


def test_capacity_with_gaps_between_words():
    """`w.ready` is decided a cycle ahead: written with a gap after every word, the FIFO takes
    `capacity` = depth - 1 uncommitted words (back to back, above, all `depth`)."""
    dut = CommitFifo(8, depth=8)
    accepted = []

    async def writer(ctx):
        for word in range(12):
            ctx.set(dut.w.valid, 1)
            ctx.set(dut.w.payload, word)
            _, _, ready = await ctx.tick().sample(dut.w.ready)
            accepted.append(ready)
            ctx.set(dut.w.valid, 0)
            await ctx.tick()

    simulate(dut, writer)
    assert dut.capacity == 7 and accepted == [1] * 7 + [0] * 5
