"""The header patch stage against the model's `ipv4.rewrite` (checksum from scratch): random
valid headers of every length, both checksum forms of a zero sum, under random stalls."""

import random

import pytest

from espline.gateware.esp.header_patch import HeaderPatch
from espline.sim.model import ipv4
from espline.sim.packetbus import beats, put_frame, simulate, take_frame


def words_sum(header: bytes) -> int:
    """The folded one's-complement sum of a header's words (RFC 1071)."""
    return ~ipv4.checksum(header) & 0xFFFF


def random_header(rng, ihl: int) -> bytearray:
    h = bytearray(rng.randbytes(4 * ihl))
    h[0] = 0x40 | ihl
    h[10:12] = b"\0\0"
    return h


def cases(rng):
    """(frame, patch record, expected frame)."""
    out = []

    def add(l2: int, header: bytes, length: int, proto: int, enable: bool = True):
        assert ipv4.checksum(header) == 0  # valid
        frame = rng.randbytes(l2) + header + rng.randbytes(rng.randint(0, 40))
        want = frame[:l2] + ipv4.rewrite(header, proto=proto, length=length) + frame[l2 + len(header) :]
        out.append((frame, {"l2_len": l2, "enable": enable, "total_length": length, "proto": proto},
                    want if enable else frame))

    for _ in range(400):
        h = ipv4.with_checksum(random_header(rng, rng.randint(5, 15)))
        add(rng.choice((14, 18)), h, rng.randrange(1 << 16), rng.randrange(256), rng.random() < 0.85)
    for _ in range(60):  # the old header's words sum to zero: its checksum 0x0000, or 0xffff alike
        h = random_header(rng, rng.randint(5, 15))
        h[4:6] = b"\0\0"
        h[4:6] = (0xFFFF - words_sum(h)).to_bytes(2, "big")
        assert words_sum(h) == 0xFFFF
        h[10:12] = rng.choice((b"\0\0", b"\xff\xff"))
        add(rng.choice((14, 18)), bytes(h), rng.randrange(1 << 16), rng.randrange(256))
    for _ in range(60):  # the new header's words sum to zero: its checksum 0x0000
        h = random_header(rng, rng.randint(5, 15))
        proto = rng.randrange(256)
        probe = bytearray(h)
        probe[2:4], probe[9] = b"\0\0", proto
        length = 0xFFFF - words_sum(probe)
        add(rng.choice((14, 18)), ipv4.with_checksum(h), length, proto)
        assert out[-1][2][out[-1][1]["l2_len"] + 10 :][:2] == b"\0\0"
    for _ in range(30):  # unchanged values
        h = ipv4.with_checksum(random_header(rng, rng.randint(5, 15)))
        add(rng.choice((14, 18)), h, int.from_bytes(h[2:4], "big"), h[9])
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("width", [4, 16, 32])
def test_patch_matches_the_model(width):
    rng = random.Random(width)
    todo = cases(rng)
    dut = HeaderPatch(width)
    got = []

    async def source(ctx):
        for frame, _, _ in todo:
            await put_frame(ctx, dut.i, frame, width, rng, idle=0.2)

    async def records(ctx):
        for _, record, _ in todo:
            while rng.random() < 0.2:
                await ctx.tick()
            ctx.set(dut.patch.valid, 1)
            ctx.set(dut.patch.payload, record)
            await ctx.tick().until(dut.patch.ready)
            ctx.set(dut.patch.valid, 0)

    async def sink(ctx):
        for _ in todo:
            got.append(await take_frame(ctx, dut.o, width, rng, stall=0.2))

    simulate(dut, source, records, sink)
    for (frame, record, want), out in zip(todo, got, strict=True):
        assert out == want, (frame.hex(), record)


def test_no_bubbles():
    """Records always there and the sink always ready: a beat every cycle, back to back."""
    rng = random.Random(1)
    todo = cases(rng)[:40]
    dut = HeaderPatch(16)
    got = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for frame, record, _ in todo:
            ctx.set(dut.patch.valid, 1)
            ctx.set(dut.patch.payload, record)
            for beat in beats(frame, 16):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, beat)
                assert ctx.get(dut.i.ready)
                await ctx.tick()
        ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        for _ in todo:
            got.append(await take_frame(ctx, dut.o, 16, rng))

    simulate(dut, bench, sink)
    assert got == [want for _, _, want in todo]
