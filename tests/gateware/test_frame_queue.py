"""The lossy frame queue: its input never stalls; under random reader stalls every frame comes
out whole and in order or is dropped whole, and each drop is counted."""

import random

import pytest

from espline.gateware.frame_queue import FrameQueue
from espline.sim.packetbus import beats, simulate, take_frame


def run(dut, frames, rng, *, idle=0.3, stall=0.6, hold=0):
    """Write `frames` back to back (the input is always ready), with the reader held for `hold`
    cycles, then reading with random stalls; return the frames out and the drop pulses."""
    got, drops, written = [], [], []

    async def writer(ctx):
        for frame in frames:
            for beat in beats(frame, dut.width):
                while rng.random() < idle:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, beat)
                _, _, ready, dropped = await ctx.tick().sample(dut.i.ready, dut.dropped)
                assert ready, "the queue back-pressured its input"
                drops.append(dropped)
        ctx.set(dut.i.valid, 0)
        written.append(1)

    async def reader(ctx):
        if hold:
            await ctx.tick().repeat(hold)
        while not written or len(got) < len(frames) - sum(drops):
            if ctx.get(dut.o.valid):  # a frame is out: take it
                got.append(await take_frame(ctx, dut.o, dut.width, rng, stall))
            else:
                await ctx.tick()

    simulate(dut, writer, reader, cycles=20 * sum(map(len, frames)) + 1000 + hold,
             stuck=lambda: f"{len(got)} frames out, {sum(drops)} dropped, of {len(frames)}")
    return got, sum(drops)


def subsequence(got, frames):
    it = iter(frames)
    return all(any(f == g for f in it) for g in got)


@pytest.mark.parametrize("width,seed", [(4, 1), (16, 2), (16, 3)])
def test_frames_whole_or_dropped_whole(width, seed):
    rng = random.Random(seed)
    frames = [rng.randbytes(rng.randint(1, 300)) for _ in range(60)]
    got, dropped = run(FrameQueue(width, depth=512 // width), frames, rng)
    assert dropped > 0, "the reader should have been too slow"
    assert len(got) + dropped == len(frames) and subsequence(got, frames)


def test_a_held_reader_gets_what_fitted():
    """Nothing read while 10 frames of 5 beats arrive at a 16-beat queue: the first three are
    kept (15 beats), the rest dropped; then they come out."""
    rng = random.Random(4)
    frames = [bytes([k]) * 80 for k in range(10)]
    got, dropped = run(FrameQueue(16, depth=16), frames, rng, idle=0, stall=0, hold=200)
    assert got == frames[:3] and dropped == 7


def test_a_frame_larger_than_the_queue_is_dropped_and_the_next_passes():
    rng = random.Random(5)
    frames = [bytes(20), bytes(range(200)), bytes(range(100))]
    got, dropped = run(FrameQueue(16, depth=8), frames, rng, stall=0)
    assert got == [frames[0], frames[2]] and dropped == 1
