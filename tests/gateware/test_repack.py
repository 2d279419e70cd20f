"""The byte gearbox: frames given as fragments at random alignments come out as the same bytes,
densely packed, under random stalls on both sides; at full rate when nothing stalls. Fragments
as wide as the beats, or wider or narrower (the gearboxes between a narrow bus and the GCM
engine's 16-byte blocks)."""

import random

import pytest

from espline.gateware.repack import Repack
from espline.sim.packetbus import simulate, take_frame


def fragments(frame: bytes, width: int, rng: random.Random):
    """`frame` cut into random fragments, each placed at a random lane with junk around it."""
    out, at = [], 0
    while at < len(frame):
        n = rng.randint(1, width) if rng.random() < 0.5 else width
        n = min(n, len(frame) - at)
        lo = rng.randint(0, width - n)
        lanes = bytearray(rng.randbytes(width))
        lanes[lo : lo + n] = frame[at : at + n]
        at += n
        out.append({"data": int.from_bytes(lanes, "little"), "lo": lo, "n": n, "last": 0})
    if rng.random() < 0.3:
        out.append({"data": rng.getrandbits(8 * width), "lo": rng.randrange(width), "n": 0, "last": 1})
    else:
        out[-1]["last"] = 1
    return out


def run(width, frames, rng, idle, stall, in_width=None):
    dut = Repack(width, in_width)
    in_width = dut.in_width
    got = []

    async def source(ctx):
        for frame in frames:
            for piece in fragments(frame, in_width, rng):
                while rng.random() < idle:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, piece)
                await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        for _ in frames:
            got.append(await take_frame(ctx, dut.o, width, rng, stall))

    simulate(dut, source, sink, cycles=20 * sum(map(len, frames)) + 1000,
             stuck=lambda: f"stuck after {len(got)} frames")
    return got


@pytest.mark.parametrize("width,in_width", [(4, 4), (16, 16), (4, 16), (16, 4), (2, 16), (16, 8)])
def test_fragments_become_the_same_bytes(width, in_width):
    rng = random.Random(width * 100 + in_width)
    sizes = (1, 2, width - 1, width, width + 1, in_width - 1, in_width + 1)
    frames = [rng.randbytes(max(1, rng.choice(sizes + (rng.randint(1, 300),)))) for _ in range(60)]
    assert run(width, frames, rng, idle=0.3, stall=0.3, in_width=in_width) == frames


def test_full_rate_when_nothing_stalls():
    """Misaligned 16-byte fragments of a 1500-byte frame: one output beat per cycle."""
    rng = random.Random(1)
    frame = rng.randbytes(1500)
    dut = Repack(16)
    pieces = [{"data": int.from_bytes(frame[:7], "little") << 72, "lo": 9, "n": 7, "last": 0}]
    pieces += [{"data": int.from_bytes(frame[i:i + 16].ljust(16, b"\0"), "little"), "lo": 0,
                "n": len(frame[i:i + 16]), "last": int(i + 16 >= len(frame))} for i in range(7, 1500, 16)]
    out_cycles = []

    async def source(ctx):
        ctx.set(dut.i.valid, 1)
        for piece in pieces:
            ctx.set(dut.i.payload, piece)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    simulate(dut, source, _ready_sink(dut, 16, frame, out_cycles))
    assert out_cycles[-1] - out_cycles[0] + 1 == -(-1500 // 16)


def _ready_sink(dut, width, frame, out_cycles):
    """A sink always ready: checks the beats spell `frame`, appends the cycle of each beat."""
    async def sink(ctx):
        ctx.set(dut.o.ready, 1)
        out, cycle = b"", 0
        while True:
            _, _, valid, beat = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid:
                out_cycles.append(cycle)
                out += beat.data.to_bytes(width, "little")[: beat.nbytes]
                if beat.last:
                    break
        assert out == frame
    return sink


@pytest.mark.parametrize("width,in_width", [(4, 16), (16, 4), (2, 16), (16, 8)])
def test_full_rate_between_widths(width, in_width):
    """Dense fragments of a 1500-byte frame, nothing stalling: the narrower side moves every cycle
    (a beat out when fragments are wider, a fragment in when they are narrower)."""
    rng = random.Random(width + in_width)
    frame = rng.randbytes(1500)
    dut = Repack(width, in_width)
    pieces = [{"data": int.from_bytes(frame[i:i + in_width].ljust(in_width, b"\0"), "little"), "lo": 0,
               "n": len(frame[i:i + in_width]), "last": int(i + in_width >= len(frame))}
              for i in range(0, 1500, in_width)]
    cycles = {"in": [], "out": []}

    async def source(ctx):
        ctx.set(dut.i.valid, 1)
        cycle = 0
        for piece in pieces:
            ctx.set(dut.i.payload, piece)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                cycle += 1
                if ready:
                    cycles["in"].append(cycle)
                    break
        ctx.set(dut.i.valid, 0)

    simulate(dut, source, _ready_sink(dut, width, frame, cycles["out"]))
    narrow = cycles["out"] if width < in_width else cycles["in"]
    assert narrow[-1] - narrow[0] + 1 == len(narrow)
