"""The streamed IPv4 header checksum against a plain restatement of RFC 1071 and the reference
model's `ipv4.checksum`: every header length (IHL 0..15), options, bit flips, frames cut short
and frames of one beat, at every header offset the appliance uses (one, or either of two chosen
per frame), under random idle cycles."""

import random

import pytest
from amaranth.sim import Simulator

from espline.gateware.esp.ipv4_checksum import HeaderChecksum
from espline.sim.model import ipv4
from espline.sim.packetbus import beats


def rfc1071_ok(header: bytes) -> bool:
    """RFC 1071 §1 as written: add the 16-bit words with end-around carry; the header is
    correct when the sum is all ones."""
    total = 0
    for i in range(0, len(header), 2):
        total += header[i] << 8 | header[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def headers(rng):
    out = []
    for ihl in range(16):
        for _ in range(4):
            h = bytearray(rng.randbytes(max(4 * ihl, 1)))
            h[0] = rng.randrange(16) << 4 | ihl
            if ihl >= 5:
                h = bytearray(ipv4.with_checksum(h))
            out.append(bytes(h))
            if ihl >= 5:
                broken = bytearray(h)
                broken[rng.randrange(len(h))] ^= 1 << rng.randrange(8)
                out.append(bytes(broken))
    zeros = bytearray(20)
    zeros[0] = 0x45
    out += [bytes(zeros), ipv4.with_checksum(zeros), b"\x45" + b"\xff" * 19]  # sums of 0 and 0xffff
    return out


def frames(rng, starts):
    """(frame, which of `starts` its header is at)."""
    out = []
    for h in headers(rng):
        choice = rng.randrange(len(starts))
        f = rng.randbytes(starts[choice]) + h + rng.randbytes(rng.randint(0, 40))
        out.append((f, choice))
        out.append((f[: rng.randint(1, starts[choice] + len(h))], choice))  # cut short: in the header or before
    rng.shuffle(out)
    return out


@pytest.mark.parametrize("width,starts", [(2, (14,)), (4, (14,)), (4, (18,)), (4, (0,)), (8, (18,)), (16, (14,)),
                                          (16, (0,)), (2, (14, 18)), (4, (14, 18)), (16, (14, 18))])
def test_checksum_agrees_with_rfc1071_and_the_model(width, starts):
    rng = random.Random(width * 100 + sum(starts))
    inputs = frames(rng, starts)
    dut = HeaderChecksum(width, starts)
    verdicts = []

    async def bench(ctx):
        for f, choice in inputs:
            for n, beat in enumerate(beats(f, width)):
                # `choice` holds from the beat of the earliest start on; before it, anything
                ctx.set(dut.choice, choice if n >= min(starts) // width else rng.randrange(len(starts)))
                while rng.random() < 0.2:  # idle: nothing taken
                    ctx.set(dut.take, 0)
                    ctx.set(dut.beat.data, rng.getrandbits(8 * width))
                    await ctx.tick()
                ctx.set(dut.take, 1)
                ctx.set(dut.beat, beat)
                await ctx.tick()
                if beat["last"]:
                    verdicts.append(ctx.get(dut.ok))  # the cycle after the last beat
            ctx.set(dut.take, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()

    checked = 0
    for (f, choice), ok in zip(inputs, verdicts, strict=True):
        start = starts[choice]
        if len(f) <= start or len(f) < start + 4 * (f[start] & 0xF):
            continue  # the frame does not hold the header: no verdict asked
        header = f[start : start + 4 * (f[start] & 0xF)]
        want = rfc1071_ok(header)
        assert want == (ipv4.checksum(header) == 0), header.hex()
        assert ok == want, (f.hex(), start, width)
        checked += 1
    assert checked > len(inputs) // 3
    assert sum(verdicts) > len(inputs) // 8


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_odd_widths_are_refused():
    with pytest.raises(ValueError, match="straddle"):
        HeaderChecksum(3, (14,))
    with pytest.raises(ValueError, match="straddle"):
        HeaderChecksum(4, (14, 15))
