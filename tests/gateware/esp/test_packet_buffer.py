"""The transactional packet buffer: only committed frames come out, cut to their committed
length, in order, under random stalls on every side; oversize frames are dropped cleanly."""

import random

import pytest
from amaranth.lib import data

from espline.gateware.esp.packet_buffer import PacketBuffer
from espline.sim.packetbus import put_frame, simulate, take_frame


def committed(frames, verdicts):
    return [f[:length] for f, (ok, length) in zip(frames, verdicts, strict=True) if ok and length]


def run(dut, frames, verdicts, rng, kept, idle=0.3, stall=0.3, commit_delay=3):
    """Write `frames`, commit each with its verdict (ok, length) after a random delay, read
    as many frames as `kept` holds; return them and the number of overflow pulses."""
    got, overflows = [], []

    async def writer(ctx):
        for frame, (ok, length) in zip(frames, verdicts, strict=True):
            await put_frame(ctx, dut.i, frame, dut.width, rng, idle)
            if commit_delay:
                await ctx.tick().repeat(rng.randint(1, commit_delay))
            ctx.set(dut.commit.valid, 1)
            ctx.set(dut.commit.payload, {"ok": ok, "length": length})
            overflow, = await ctx.tick().sample(dut.overflow).until(dut.commit.ready)
            overflows.append(overflow)
            ctx.set(dut.commit.valid, 0)

    async def reader(ctx):
        for _ in kept:
            got.append(await take_frame(ctx, dut.o, dut.width, rng, stall))

    simulate(dut, writer, reader, cycles=50 * sum(map(len, frames)) + 1000,
             stuck=lambda: f"deadlock: {len(got)} of {len(kept)} frames out")
    return got, sum(overflows)


@pytest.mark.parametrize("width", [4, 16])
def test_only_committed_frames_leave(width):
    rng = random.Random(width)
    frames = [rng.randbytes(rng.randint(1, 200)) for _ in range(40)]  # all fit the 512-byte buffer
    verdicts = []
    for f in frames:
        r = rng.random()
        verdicts.append((True, len(f)) if r < 0.5 else
                        (True, rng.randint(1, len(f))) if r < 0.7 else  # trailer cut off
                        (False, len(f)))  # ICV failed
    kept = committed(frames, verdicts)
    got, overflows = run(PacketBuffer(width, depth=512 // width, frames=4), frames, verdicts, rng, kept)
    assert got == kept and overflows == 0


def test_a_frame_larger_than_the_buffer_is_dropped_and_the_next_passes():
    rng = random.Random(1)
    frames = [rng.randbytes(100), rng.randbytes(16 * 8 + 1), rng.randbytes(16 * 8), rng.randbytes(50)]
    verdicts = [(True, len(f)) for f in frames]
    kept = [frames[0], frames[2], frames[3]]
    got, overflows = run(PacketBuffer(16, depth=8, frames=2), frames, verdicts, rng, kept)
    assert got == kept and overflows == 1


def test_back_to_back_frames_without_stalls():
    """Back-to-back frames, commits at once and an always-ready reader."""
    rng = random.Random(2)
    frames = [rng.randbytes(160) for _ in range(8)]
    got, _ = run(PacketBuffer(16, depth=64, frames=4), frames, [(True, 160)] * 8, rng, frames, 0, 0, 0)
    assert got == frames


META = data.StructLayout({"tag": 16, "flag": 1})


async def commit(ctx, dut, verdict: dict):
    ctx.set(dut.commit.valid, 1)
    ctx.set(dut.commit.payload, verdict)
    await ctx.tick().until(dut.commit.ready)
    ctx.set(dut.commit.valid, 0)


async def take_with(ctx, dut, sideband, rng, stall: float = 0.3) -> tuple[bytes, list]:
    """One frame from `dut.o` under random stalls, and the value of `sideband` with each beat."""
    out, seen = b"", []
    while True:
        ready = rng.random() >= stall
        ctx.set(dut.o.ready, ready)
        _, _, valid, beat, value = await ctx.tick().sample(dut.o.valid, dut.o.payload, sideband)
        if valid and ready:
            out += beat.data.to_bytes(dut.width, "little")[: beat.nbytes]
            seen.append(value)
            if beat.last:
                return out, seen


@pytest.mark.parametrize("width", [4, 16])
def test_meta_travels_with_committed_frames_only(width):
    """Each released frame carries its own commit's meta on every beat; discarded and oversize
    frames' meta never shows."""
    rng = random.Random(10 + width)
    depth = 256 // width
    frames, verdicts = [], []
    for _ in range(60):
        size = rng.choice((rng.randint(1, 120), rng.randint(1, 120), 256 + rng.randint(1, 40)))  # some too large
        frames.append(rng.randbytes(size))
        r = rng.random()
        verdicts.append((r < 0.7, len(frames[-1]) if r < 0.5 else rng.randint(1, size)))
    metas = [{"tag": i, "flag": rng.randrange(2)} for i in range(len(frames))]
    kept = [(f[:length], meta) for f, (ok, length), meta in zip(frames, verdicts, metas, strict=True)
            if ok and length and len(f) <= 256]
    dut = PacketBuffer(width, depth=depth, frames=4, meta=META)
    got = []

    async def writer(ctx):
        for frame, (ok, length), meta in zip(frames, verdicts, metas, strict=True):
            await put_frame(ctx, dut.i, frame, width, rng, 0.3)
            await commit(ctx, dut, {"ok": ok, "length": length, "meta": meta})

    async def reader(ctx):
        for _ in kept:
            out, seen = await take_with(ctx, dut, dut.meta, rng)
            got.append((out, {(int(meta.tag), int(meta.flag)) for meta in seen}))
        ctx.set(dut.o.ready, 0)

    simulate(dut, writer, reader, cycles=50 * sum(map(len, frames)) + 1000,
             stuck=lambda: f"deadlock: {len(got)} of {len(kept)} frames out")
    assert len(kept) < 50 and any(len(f) > 256 for f in frames)
    assert [f for f, _ in got] == [f for f, _ in kept]
    for (_, seen), (_, meta) in zip(got, kept, strict=True):
        assert seen == {(meta["tag"], meta["flag"])}


@pytest.mark.parametrize("width", [4, 16])
def test_frames_stream_in_while_commits_lag(width):
    """The writer runs ahead of the commits (up to `frames` pending); verdicts still apply to the
    right frames, and discarded frames free their space."""
    rng = random.Random(20 + width)
    frames = [rng.randbytes(rng.randint(1, 150)) for _ in range(50)]
    verdicts = [(rng.random() < 0.6, len(f) if rng.random() < 0.7 else rng.randint(1, len(f))) for f in frames]
    kept = committed(frames, verdicts)
    dut = PacketBuffer(width, depth=512 // width, frames=4)
    got, ahead, written = [], [], [0]

    async def writer(ctx):
        for frame in frames:
            await put_frame(ctx, dut.i, frame, width, rng, 0.2)
            written[0] += 1

    async def committer(ctx):
        for n, (ok, length) in enumerate(verdicts):
            await ctx.tick().repeat(rng.randint(1, 30))
            ahead.append(written[0] - n)  # frames written and not yet committed
            ctx.set(dut.commit.valid, 1)
            ctx.set(dut.commit.payload, {"ok": ok, "length": length})
            await ctx.tick().until(dut.commit.ready)
            ctx.set(dut.commit.valid, 0)

    async def reader(ctx):
        for _ in kept:
            got.append(await take_frame(ctx, dut.o, width, rng, 0.2))

    simulate(dut, writer, committer, reader)
    assert got == kept
    assert max(ahead) >= 2


@pytest.mark.parametrize("width", [4, 16])
def test_placeholders_every_frame_comes_out_with_its_number(width):
    """With placeholders (the store of each direction, docs/invariants.md §6): every frame written
    comes out, numbered in the order written; empty, discarded and oversize ones as one empty
    beat; frame boundaries follow `last` alone."""
    rng = random.Random(30 + width)
    sizes = [0, 5, 0, 300, 16, 0, 257] + [rng.choice((0, rng.randint(1, 120), 256 + rng.randint(1, 40)))
                                          for _ in range(300)]  # numbers wrap past 256
    frames = [rng.randbytes(n) for n in sizes]
    verdicts = [(rng.random() < 0.8, len(f)) for f in frames]
    want = [(n % 256, f if ok and len(f) <= 256 else b"")
            for n, (f, (ok, _)) in enumerate(zip(frames, verdicts, strict=True))]
    dut = PacketBuffer(width, depth=256 // width, frames=4, placeholders=True)
    got = []

    async def writer(ctx):
        for frame, (ok, length) in zip(frames, verdicts, strict=True):
            await put_frame(ctx, dut.i, frame, width, rng, 0.3)
            await commit(ctx, dut, {"ok": ok, "length": length})

    async def reader(ctx):
        for _ in want:
            out, numbers = await take_with(ctx, dut, dut.tag, rng)
            assert len(set(numbers)) == 1
            got.append((numbers[0], out))
        ctx.set(dut.o.ready, 0)

    simulate(dut, writer, reader, cycles=60 * sum(map(len, frames)) + 20_000,
             stuck=lambda: f"deadlock: {len(got)} of {len(want)} frames out")
    assert got == want
