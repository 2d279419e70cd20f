"""The ESP trailer monitor against the reference model's pad rule (`esp.decapsulate`) and its
IPv4 header checksum (`ipv4.checksum`, for the inner header), on random and crafted trailers,
across beat boundaries, under random stalls."""

import random

import pytest

from espline.gateware.esp.trailer import EspTrailer
from espline.sim.model import ipv4
from espline.sim.packetbus import beats, put_frame, simulate, take_frame


def pad_ok(plain: bytes) -> bool:
    """The model's check, as written in `espline.sim.model.esp.decapsulate`."""
    if len(plain) < 2:
        return False
    pad = plain[-2]
    return pad + 2 <= len(plain) and plain[-2 - pad : -2] == bytes(range(1, pad + 1))


def trailer(rng, payload_len: int, pad: int) -> bytes:
    return rng.randbytes(payload_len) + bytes(range(1, pad + 1)) + bytes((pad, rng.randrange(256)))


def plaintexts(rng, width):
    out = []
    for _ in range(150):  # good trailers, RFC 4303 padding to 4-byte alignment or any length
        n = rng.randint(0, 200)
        out.append(trailer(rng, n, rng.choice(((-(n + 2)) & 3, rng.randrange(256)))))
    for _ in range(100):  # one byte of a good trailer broken
        f = bytearray(trailer(rng, rng.randint(0, 60), rng.randint(1, 20)))
        f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
        out.append(bytes(f))
    out += [rng.randbytes(rng.randint(2, 100)) for _ in range(50)]
    for _ in range(60):  # an inner IPv4 header first (tunnel mode), any length, its checksum good or broken
        header = bytearray(rng.randbytes(4 * rng.randint(5, 15)))
        header[0] = 0x40 | len(header) // 4
        f = bytearray(trailer(rng, 0, rng.randrange(4)))
        f[:0] = ipv4.with_checksum(header) + rng.randbytes(rng.randint(0, 30))
        if rng.random() < 0.4:
            f[rng.randrange(len(header))] ^= 1 << rng.randrange(8)
        out.append(bytes(f))
    # crafted: every short length; pad exactly filling; one too long; runs that look like padding
    for n in range(2, 3 * width + 4):
        out.append(bytes(range(1, n - 1)) + bytes((n - 2, 4)))  # pad fills the plaintext
        out.append(bytes(range(1, n - 1)) + bytes((n - 1, 4)))  # pad one byte longer than there is
        out.append(bytes(n - 2) + bytes((0, 4)))
        for pad in range(0, n - 1):  # the pad and its length at every offset of the beat
            out.append(trailer(rng, n - 2 - pad, pad))
    out += [b"\1\2\3\4\1\2\2\4", b"\1\2\3\2\4", b"\1\2\1\2\3\3\4", b"\0\1\2\2\4", b"\2\3\2\4",
            bytes(range(1, 256)) + b"\xff\4", bytes(range(1, 255)) + b"\xff\4", b"\xff" * 300,
            bytes([1] * 40) + b"\1\4", bytes(range(1, 256)) * 2 + b"\xfe\4", b"\0", b"\5"]
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("width", [4, pytest.param(16, marks=pytest.mark.slow)])
def test_trailer_matches_the_model(width):
    rng = random.Random(width)
    inputs = plaintexts(rng, width)
    assert sum(map(pad_ok, inputs)) > len(inputs) // 3
    dut = EspTrailer(width)
    passed, records = [], []

    async def source(ctx):
        for f in inputs:
            await put_frame(ctx, dut.i, f, width, rng, idle=0.2)

    async def sink(ctx):
        for _ in inputs:
            passed.append(await take_frame(ctx, dut.o, width, rng, stall=0.2))

    async def trailers(ctx):
        for _ in inputs:
            while rng.random() < 0.3:
                await ctx.tick()
            ctx.set(dut.trailer.ready, 1)
            record, = await ctx.tick().sample(dut.trailer.payload).until(dut.trailer.valid)
            ctx.set(dut.trailer.ready, 0)
            records.append(record)

    simulate(dut, source, sink, trailers, cycles=20 * (sum(map(len, inputs)) + len(inputs) * width),
             stuck=lambda: f"stuck after {len(passed)} frames and {len(records)} records")

    assert passed == inputs
    assert sum(r.head_checksum_ok for r in records) >= 20  # the inner headers with a good checksum
    for f, r in zip(inputs, records, strict=True):
        ok = pad_ok(f)
        assert (r.length, r.next_header, r.pad_ok) == (len(f), f[-1], ok), f.hex()
        assert len(f) < 2 or r.pad_len == f[-2]
        if ok:
            assert r.payload_len == len(f) - 2 - f[-2]
        if len(f) >= 4 * (f[0] & 0xF):  # the plaintext holds the header it starts with
            assert r.head_checksum_ok == (ipv4.checksum(f[: 4 * (f[0] & 0xF)]) == 0), f.hex()
        assert int(r.head).to_bytes(20, "little")[: len(f)] == f[:20], f.hex()
        after = f[4 * (f[0] & 0xF) :][:4]
        assert int(r.after_header).to_bytes(4, "little")[: len(after)] == after, f.hex()


def test_no_bubbles():
    """Back to back frames with every side always ready: a beat taken every cycle."""
    rng = random.Random(1)
    inputs = [trailer(rng, rng.randint(0, 50), rng.randrange(4)) for _ in range(30)]
    dut = EspTrailer(16)

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.trailer.ready, 1)
        for f in inputs:
            for beat in beats(f, 16):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, beat)
                assert ctx.get(dut.i.ready)
                await ctx.tick()

    simulate(dut, bench)
