"""The UART receiver against 8N1 written from the standard (uart_line): random bytes with random
gaps at several divisors, a sender a few per cent off the divisor, framing errors and glitches
discarded."""

import random

import pytest
from uart_line import send

from espline.gateware.csr.uart_rx import UartRx
from espline.sim.packetbus import simulate


def receive_all(divisor, script, rng):
    """Play `script` (("byte", value, bit_cycles, stop) | ("idle", cycles) | ("glitch", cycles))
    on the line; the bytes the receiver delivers."""
    dut = UartRx(divisor)
    got = []

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(5)
        for step in script:
            if step[0] == "byte":
                await send(ctx, dut.rx, step[1], step[2], step[3])
            elif step[0] == "glitch":
                ctx.set(dut.rx, 0)
                await ctx.tick().repeat(step[1])
                ctx.set(dut.rx, 1)
            await ctx.tick().repeat(step[-1] if step[0] != "byte" else rng.randint(1, 2 * divisor))
        await ctx.tick().repeat(3 * divisor)

    async def sink(ctx):
        ctx.set(dut.data.ready, 1)
        async for _, _, valid, payload in ctx.tick().sample(dut.data.valid, dut.data.payload):
            if valid:
                got.append(payload)

    simulate(dut, line, background=(sink,))
    return got


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_random_bytes_with_random_gaps(divisor):
    rng = random.Random(divisor)
    sent = [0x00, 0xFF, 0x55, 0xAA] + [rng.randrange(256) for _ in range(40)]
    assert receive_all(divisor, [("byte", b, divisor, 1) for b in sent], rng) == sent


@pytest.mark.parametrize("bit_cycles", [31, 33])
def test_a_sender_three_per_cent_off(bit_cycles):
    rng = random.Random(bit_cycles)
    sent = [rng.randrange(256) for _ in range(12)]
    assert receive_all(32, [("byte", b, bit_cycles, 1) for b in sent], rng) == sent


def test_framing_errors_and_glitches_are_discarded():
    """A byte whose stop bit is 0 is not delivered; a low pulse shorter than half a bit starts
    nothing; the bytes around them arrive."""
    rng = random.Random(1)
    script = [("byte", 0x12, 8, 1), ("byte", 0x34, 8, 0), ("idle", 20), ("byte", 0x56, 8, 1),
              ("glitch", 3), ("idle", 20), ("byte", 0x78, 8, 1), ("glitch", 1), ("idle", 3), ("byte", 0x9A, 8, 1)]
    assert receive_all(8, script, rng) == [0x12, 0x56, 0x78, 0x9A]
