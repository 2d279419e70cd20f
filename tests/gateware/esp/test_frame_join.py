"""The frame join releases a stored frame only with the decision that carries its number
(docs/invariants.md §6): matching pairs go out whole and in order under random stalls; a frame
or a decision whose partner is missing is dropped and counted, never paired with another."""

import random

import pytest
from amaranth.lib import data
from amaranth.sim import Simulator

from espline.gateware.esp.frame_join import FrameJoin
from espline.sim.packetbus import put_frame, take_frame

JOB = data.StructLayout({"tag": 8, "value": 16})


def run(frames: list, jobs: list, pairs: int, rng, stall: float = 0.0):
    """Frames (number, bytes) and jobs (number, value) into a join; the first `pairs` released
    (number, value, frame) and the count of `desync` pulses."""
    dut = FrameJoin(JOB, 16)
    got, pulses = [], []

    async def frame_source(ctx):
        for number, frame in frames:
            ctx.set(dut.tag, number % 256)
            await put_frame(ctx, dut.frame, frame, 16, rng, stall)

    async def job_source(ctx):
        for number, value in jobs:
            while rng.random() < stall:
                await ctx.tick()
            ctx.set(dut.job.valid, 1)
            ctx.set(dut.job.payload, {"tag": number % 256, "value": value})
            await ctx.tick().until(dut.job.ready)
            ctx.set(dut.job.valid, 0)

    async def sink(ctx):
        while len(got) < pairs:
            ctx.set(dut.job_o.ready, rng.random() >= stall)
            _, _, valid, ready, job = await ctx.tick().sample(dut.job_o.valid, dut.job_o.ready, dut.job_o.payload)
            if valid and ready:
                ctx.set(dut.job_o.ready, 0)
                got.append((job.tag, job.value, await take_frame(ctx, dut.frame_o, 16, rng, stall)))
        await ctx.tick().repeat(50)  # anything more would show

    async def count(ctx):
        async for _, _, desync in ctx.tick().sample(dut.desync):
            pulses.append(desync)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in (frame_source, job_source, sink):
        sim.add_testbench(bench)
    sim.add_testbench(count, background=True)
    sim.run_until(1e-8 * 60 * (sum(len(f) // 16 + 2 for _, f in frames) + len(jobs)))
    return got, sum(pulses)


@pytest.mark.parametrize("seed", [1, 2])
def test_pairs_by_number_and_drops_the_unpaired(seed):
    rng = random.Random(seed)
    count = 300  # the 8-bit numbers wrap
    lost_frames = set(rng.sample(range(count - 1), 20))
    lost_jobs = set(rng.sample(sorted(set(range(count - 1)) - lost_frames), 20))
    frames = {n: rng.randbytes(rng.choice((0, 1, 15, 16, 17, rng.randint(1, 90)))) for n in range(count)}
    want = [(n % 256, n * 7, frames[n]) for n in range(count) if n not in lost_frames | lost_jobs]
    got, desyncs = run([(n, frames[n]) for n in range(count) if n not in lost_frames],
                       [(n, n * 7) for n in range(count) if n not in lost_jobs], len(want), rng, 0.3)
    assert got == want
    assert desyncs == len(lost_frames) + len(lost_jobs)


def test_in_step_streams_pass_unchanged():
    rng = random.Random(3)
    frames = [(n, rng.randbytes(64)) for n in range(20)]
    got, desyncs = run(frames, [(n, n) for n in range(20)], 20, rng)
    assert got == [(n, n, f) for n, f in frames] and desyncs == 0
