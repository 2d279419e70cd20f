"""The splitter against an independent slicing of each frame: FORWARD sends the frame to `head`,
DROP nothing, SPLIT `[0, a)` to `head` (then_body on its end), `[b, c)`, `[c, d)` and the extra
bytes to `body`, over random frame lengths, cut points and stalls on every side."""

import random

import pytest

from espline.gateware.esp.splitter import DROP, FORWARD, SPLIT, Splitter
from espline.sim.gcmtb.pysim import stream_put
from espline.sim.packetbus import collect, fragment_bytes, put_frame, simulate


def random_job(rng, length, width):
    action = rng.choice((FORWARD, DROP, SPLIT, SPLIT))
    a, b, c, d = sorted(rng.randint(0, length) for _ in range(4))
    if rng.random() < 0.3:  # the encapsulator's shape: nothing dropped, no cut, the trailer extra
        b, d = a, c
    extra_n = rng.randint(0, 5)  # in fragments of at most `width` bytes
    return {"action": action, "tag": rng.randrange(2), "a": a, "b": b, "c": c, "d": d, "cut": rng.randrange(2),
            "extra": rng.getrandbits(40), "extra_n": extra_n}


def expected(frames, jobs):
    """Head and body as chunks of (bytes, marker, tag): head chunks end at `last` (FORWARD) or
    `then_body` (SPLIT), body chunks at `last`; bytes after the last marker are the open chunk."""
    head, body, open_body = [], [], b""
    for f, j in zip(frames, jobs, strict=True):
        if j["action"] == FORWARD:
            head.append((f, "last", j["tag"]))
        elif j["action"] == SPLIT:
            a, b, c, d = j["a"], j["b"], j["c"], j["d"]
            if a:
                head.append((f[:a], "then_body", j["tag"]))
            open_body += f[b:c]
            if j["cut"] and c > b:
                body.append((open_body, "last", None))
                open_body = b""
            open_body += f[c:d]
            if d > c:
                body.append((open_body, "last", None))
                open_body = b""
            if j["extra_n"]:
                body.append((open_body + j["extra"].to_bytes(5, "little")[: j["extra_n"]], "last", None))
                open_body = b""
    return head, body, open_body


def chunks(fragments, width, marker):
    """Received fragments as chunks like `expected`'s, and the open bytes after the last chunk."""
    out, data, tags = [], b"", set()
    for p in fragments:
        frag = p.frag if marker else p
        data += fragment_bytes(frag, width)
        if marker:
            tags.add(int(p.tag))
        ends = "then_body" if marker and p.then_body else "last" if frag.last else None
        if ends:
            assert len(tags) <= 1, "one tag per head chunk"
            out.append((data, ends, tags.pop() if marker else None))
            data, tags = b"", set()
    return out, data


@pytest.mark.parametrize("width", [2, 4, 16])
def test_every_action_over_random_lengths_and_cuts(width):
    rng = random.Random(width)
    frames = [rng.randbytes(rng.choice((0, 1, width - 1, width, width + 1, rng.randint(0, 120)))) for _ in range(200)]
    jobs = [random_job(rng, len(f), width) for f in frames]
    dut = Splitter(width)
    head, body = [], []

    async def frame_source(ctx):
        for f in frames:
            await put_frame(ctx, dut.frame, f, width, rng, idle=0.3)
        await ctx.tick().repeat(100)  # the last trailer drains

    async def job_source(ctx):
        await stream_put(ctx, dut.job, jobs, rng=rng, valid_prob=0.6)

    async def head_sink(ctx):
        await collect(ctx, dut.head, head, rng, stall=0.3)

    async def body_sink(ctx):
        await collect(ctx, dut.body, body, rng, stall=0.4)

    simulate(dut, frame_source, job_source, background=(head_sink, body_sink), cycles=100 * len(frames) + 20_000,
             stuck=lambda: f"stuck: {len(head)} head and {len(body)} body fragments out")
    want_head, want_body, want_open = expected(frames, jobs)
    assert chunks(head, width, marker=True) == (want_head, b"")
    assert chunks(body, width, marker=False) == (want_body, want_open)
    assert {j["action"] for j in jobs} == {FORWARD, DROP, SPLIT}
