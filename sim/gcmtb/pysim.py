"""Drive the GCM engine (or any stream component) in Amaranth's simulator, whole transfers at once."""

import random

from amaranth.sim import Simulator

from .packets import encode, expected_beats

__all__ = ["run_gcm", "stream_get", "stream_put"]


async def stream_put(ctx, s, payloads, rng=None, valid_prob=1.0, on_fire=None):
    """Send every payload on stream ``s``; with ``rng``, insert random idle cycles."""
    for n, p in enumerate(payloads):
        while rng is not None and valid_prob < 1.0 and rng.random() >= valid_prob:
            ctx.set(s.valid, 0)
            await ctx.tick()
        ctx.set(s.payload, p)
        ctx.set(s.valid, 1)
        await ctx.tick().until(s.ready)
        if on_fire is not None:
            on_fire(n)
    ctx.set(s.valid, 0)


async def stream_get(ctx, s, n, rng=None, ready_prob=1.0, on_beat=None):
    """Receive ``n`` transfers from stream ``s``; with ``rng``, deassert ready at random."""
    out = []
    while len(out) < n:
        ready = rng is None or ready_prob >= 1.0 or rng.random() < ready_prob
        ctx.set(s.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(s.valid, s.payload)
        if ready and valid:
            out.append(payload)
            if on_beat is not None:
                on_beat(payload)
    ctx.set(s.ready, 0)
    return out


def run_gcm(dut, packets, *, seed=0, valid_prob=1.0, ready_prob=1.0, vcd=None):
    """Push ``packets`` through the GCM component ``dut``, check every output beat against
    :func:`.packets.expected_beats`, and return cycle stamps {"i": [...], "o": [...]}
    (cycle numbers of each input/output beat transfer)."""
    rng = random.Random(seed)
    enc = [encode(p) for p in packets]
    expect = [b for p in packets for b in expected_beats(p)]
    stamps = {"i": [], "o": []}
    clock = {"cycle": 0}

    async def clock_tb(ctx):
        while True:
            await ctx.tick()
            clock["cycle"] += 1

    async def cmd_tb(ctx):
        await stream_put(ctx, dut.cmd, [c for c, _ in enc], rng=rng, valid_prob=valid_prob)

    async def data_tb(ctx):
        await stream_put(ctx, dut.i, [b for _, bs in enc for b in bs], rng=rng, valid_prob=valid_prob,
                         on_fire=lambda n: stamps["i"].append(clock["cycle"] - 1))

    async def out_tb(ctx):
        got = await stream_get(ctx, dut.o, len(expect), rng=rng, ready_prob=ready_prob,
                               on_beat=lambda p: stamps["o"].append(clock["cycle"] - 1))
        got = [(g.data, g.nbytes, g.last, g.ok if g.last else 0) for g in got]
        for n, (g, e) in enumerate(zip(got, expect, strict=True)):
            assert g == e, f"beat {n}: got {g}, expected {e}"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(clock_tb)
    sim.add_testbench(cmd_tb)
    sim.add_testbench(data_tb)
    sim.add_testbench(out_tb)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return stamps
