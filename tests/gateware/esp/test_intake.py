"""A direction's intake (parser, store, join) with a stand-in control that answers each record
with a job of its number: every frame, whatever its length (0, runts, the largest, one beyond,
beyond the store, beyond 64 KiB), gets one record numbered in order (wrapping at 256) and leaves
with its own job, whole or as the empty placeholder; a job the control leaves out drops its
frame (desync) and the rest stay in step (docs/invariants.md §6, docs/frames.md)."""

import random

from amaranth.lib import data

from espline.gateware.esp.intake import Intake
from espline.sim.gcmtb.pysim import stream_get
from espline.sim.packetbus import put_frame, simulate, take_frame

JOB = data.StructLayout({"tag": 8, "value": 16})
WIDTH, STORE_WORDS, MAX_FRAME = 16, 16, 200  # a 256-byte store


def non_ip(rng, size):
    """`size` bytes: an Ethernet header with EtherType ARP (so no IPv4 check applies), then random bytes."""
    return (rng.randbytes(12) + b"\x08\x06" + rng.randbytes(size))[:size]


def run(frames, rng, skip=frozenset(), stall=0.3):
    """Frames into an intake; the control answers record n with job (n, 7n) unless n is in `skip`.
    Returns the records (tag, length, malformed), the (job, frame) pairs out, the desync pulses."""
    dut = Intake(JOB, WIDTH, store_words=STORE_WORDS, max_frame=MAX_FRAME, records=2, frames=4)
    records, pairs, pulses = [], [], []
    want_pairs = len(frames) - len(skip)

    async def source(ctx):
        for f in frames:
            await put_frame(ctx, dut.i, f, WIDTH, rng, idle=stall)

    async def control(ctx):
        for n in range(len(frames)):
            [rec] = await stream_get(ctx, dut.parsed, 1, rng=rng, ready_prob=1 - stall)
            records.append((int(rec.tag), int(rec.length), int(rec.malformed)))
            if n not in skip:
                ctx.set(dut.job.valid, 1)
                ctx.set(dut.job.payload, {"tag": rec.tag, "value": 7 * n % 2**16})
                await ctx.tick().until(dut.job.ready)
                ctx.set(dut.job.valid, 0)

    async def sink(ctx):
        while len(pairs) < want_pairs:
            [job] = await stream_get(ctx, dut.job_o, 1, rng=rng, ready_prob=1 - stall)
            pairs.append(((int(job.tag), int(job.value)), await take_frame(ctx, dut.frame, WIDTH, rng, stall)))
        await ctx.tick().repeat(50)  # nothing more comes out

    async def count(ctx):
        async for _, _, desync in ctx.tick().sample(dut.desync):
            pulses.append(desync)

    simulate(dut, source, control, sink, background=(count,), cycles=20 * sum(len(f) // WIDTH + 4 for f in frames),
             stuck=lambda: f"stuck: {len(records)} records, {len(pairs)} of {want_pairs} frames out")
    return records, pairs, sum(pulses)


def expected(frames, skip=frozenset()):
    """The contract: record n has number n mod 256, the length saturated at MAX_FRAME + 1, and is
    malformed below 14 bytes or above MAX_FRAME; frame n leaves with job n, whole if it fits the
    store and is not empty, else as one empty beat."""
    records = [(n % 256, min(len(f), MAX_FRAME + 1), int(not 14 <= len(f) <= MAX_FRAME)) for n, f in enumerate(frames)]
    pairs = [((n % 256, 7 * n % 2**16), f if 0 < len(f) <= STORE_WORDS * WIDTH else b"")
             for n, f in enumerate(frames) if n not in skip]
    return records, pairs


HOSTILE = (0, 1, 13, 14, 15, 16, 17, 60, MAX_FRAME - 1, MAX_FRAME, MAX_FRAME + 1, 255, 256, 257, 1000)


def test_hostile_lengths():
    rng = random.Random(1)
    frames = [non_ip(rng, n) for n in HOSTILE] + [non_ip(rng, 66_000)] + [non_ip(rng, n) for n in HOSTILE[::-1]]
    records, pairs, desyncs = run(frames, rng, stall=0.1)  # beyond 64 KiB: the length saturates
    assert (records, pairs) == expected(frames)
    assert desyncs == 0


def test_numbers_wrap_at_256():
    rng = random.Random(2)
    frames = [non_ip(rng, rng.choice(HOSTILE[:9]) if rng.random() < 0.3 else rng.randint(0, 60)) for _ in range(300)]
    records, pairs, desyncs = run(frames, rng)
    assert (records, pairs) == expected(frames)
    assert desyncs == 0


def test_a_missing_job_drops_its_frame_and_the_rest_stay_in_step():
    rng = random.Random(3)
    frames = [non_ip(rng, rng.choice((0, 30, 100, 300))) for _ in range(40)]
    skip = {5, 17}
    records, pairs, desyncs = run(frames, rng, skip)
    assert (records, pairs) == expected(frames, skip)
    assert desyncs == len(skip)
