"""Whole-transfer stream helpers for Amaranth simulator testbenches (amaranth.sim, 0.5)."""


async def stream_put(ctx, s, payloads, rng=None, valid_prob=1.0):
    """Send every payload on stream ``s``; with ``rng``, insert random idle cycles."""
    for p in payloads:
        while rng is not None and rng.random() >= valid_prob:
            ctx.set(s.valid, 0)
            await ctx.tick()
        ctx.set(s.payload, p)
        ctx.set(s.valid, 1)
        await ctx.tick().until(s.ready)
    ctx.set(s.valid, 0)


async def stream_get(ctx, s, n, rng=None, ready_prob=1.0, on_beat=None):
    """Receive ``n`` transfers from stream ``s``; with ``rng``, deassert ready at random."""
    out = []
    cycle = 0
    while len(out) < n:
        ready = rng is None or rng.random() < ready_prob
        ctx.set(s.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(s.valid, s.payload)
        if ready and valid:
            out.append(payload)
            if on_beat is not None:
                on_beat(cycle, payload)
        cycle += 1
    ctx.set(s.ready, 0)
    return out
