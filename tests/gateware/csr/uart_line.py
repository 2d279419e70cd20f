"""8N1 on a simulated line, written here from the standard (start bit 0, eight data bits LSB
first, stop bit 1), for the UART tests: a sender, a mid-bit receiver, and an exact decoder."""


def bits(byte: int, stop: int = 1) -> list[int]:
    return [0] + [byte >> i & 1 for i in range(8)] + [stop]


async def send(ctx, line, byte: int, bit_cycles: int, stop: int = 1):
    """One byte onto `line`, each bit held `bit_cycles` cycles (`stop` 0: a framing error)."""
    for bit in bits(byte, stop):
        ctx.set(line, bit)
        await ctx.tick().repeat(bit_cycles)
    ctx.set(line, 1)


async def receive(ctx, line, divisor: int) -> int:
    """The next byte on `line`, sampled in the middle of each bit; asserts the stop bit."""
    level = 1
    while level:  # the start bit (a loop: a simulation dropped while in tick().until() warns)
        _, _, level = await ctx.tick().sample(line)
    await ctx.tick().repeat(divisor + divisor // 2 - 1)  # to the middle of bit 0
    byte = 0
    for i in range(8):
        byte |= ctx.get(line) << i
        await ctx.tick().repeat(divisor)
    assert ctx.get(line) == 1, "stop bit"
    return byte


def decode(levels: list[int], divisor: int) -> list[tuple[int, int]]:
    """A line's level cycle by cycle as (first cycle, byte) per character; every bit must last
    exactly `divisor` cycles and the line must idle high between characters."""
    out, t = [], 0
    while t < len(levels):
        if levels[t]:
            t += 1
            continue
        frame = levels[t : t + 10 * divisor]
        assert len(frame) == 10 * divisor, f"character at cycle {t} cut off"
        got = [frame[i * divisor : (i + 1) * divisor] for i in range(10)]
        assert all(len(set(b)) == 1 for b in got), f"a bit of the character at cycle {t} is not {divisor} cycles"
        assert got[0][0] == 0 and got[9][0] == 1, f"framing of the character at cycle {t}"
        out.append((t, sum(got[1 + i][0] << i for i in range(8))))
        t += 10 * divisor
    return out
