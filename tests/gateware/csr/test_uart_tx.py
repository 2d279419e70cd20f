"""The UART transmitter, decoded cycle by cycle from 8N1 written from the standard (uart_line):
every bit exactly `divisor` cycles, the bytes in order, back to back when the stream keeps up."""

import random

import pytest
from uart_line import decode

from espline.gateware.csr.uart_tx import UartTx
from espline.sim.gcmtb.pysim import stream_put
from espline.sim.packetbus import simulate


def transmit(divisor, sent, rng, valid_prob):
    """The tx line's level every cycle while `sent` is offered (with random gaps)."""
    dut = UartTx(divisor)
    levels = []

    async def source(ctx):
        await stream_put(ctx, dut.data, sent, rng=rng, valid_prob=valid_prob)
        await ctx.tick().repeat(12 * divisor)

    async def line(ctx):
        async for _, _, level in ctx.tick().sample(dut.tx):
            levels.append(level)

    simulate(dut, source, background=(line,))
    return levels


@pytest.mark.parametrize("divisor", [4, 9, 16])
def test_random_bytes_every_bit_exactly_divisor_cycles(divisor):
    rng = random.Random(divisor)
    sent = [0x00, 0xFF, 0x01, 0x80] + [rng.randrange(256) for _ in range(30)]
    assert [b for _, b in decode(transmit(divisor, sent, rng, valid_prob=0.2), divisor)] == sent


def test_back_to_back_when_always_offered():
    """With a byte always waiting, each character starts right after the previous stop bit (an
    idle cycle at most)."""
    rng = random.Random(2)
    sent = [rng.randrange(256) for _ in range(10)]
    chars = decode(transmit(5, sent, rng, valid_prob=1.0), 5)
    assert [b for _, b in chars] == sent
    assert all(50 <= b - a <= 51 for (a, _), (b, _) in zip(chars, chars[1:], strict=False))
