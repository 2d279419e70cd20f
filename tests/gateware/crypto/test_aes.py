"""AES cores against `cryptography`'s AES-ECB, random keys of both sizes, random stalls."""

import random

import pytest
from amaranth.sim import Simulator
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from espline.gateware.crypto.aes_compact import AESCompact
from espline.gateware.crypto.aes_wide import AESWide
from espline.gateware.crypto.sbox import SBOX
from espline.sim.gcmtb.pysim import stream_get, stream_put


def aes_ecb(key, block):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def test_sbox_table():
    # FIPS-197 Figure 7 spot checks and bijectivity.
    assert SBOX[0x00] == 0x63 and SBOX[0x53] == 0xED and SBOX[0xFF] == 0x16
    assert sorted(SBOX) == list(range(256))


@pytest.mark.parametrize("core", [AESWide, AESCompact])
@pytest.mark.parametrize("sbox", ["bram", pytest.param("lut", marks=pytest.mark.slow)])
def test_aes_random(core, sbox):
    rng = random.Random(1)
    dut = core(user=16, sbox=sbox)
    jobs = []
    for n in range(40):
        key = rng.randbytes(rng.choice([16, 32]))
        block = rng.randbytes(16)
        jobs.append((key, block, n))
    expect = [(int.from_bytes(aes_ecb(k, b), "big"), n) for k, b, n in jobs]

    async def producer(ctx):
        await stream_put(ctx, dut.i, [
            {"block": int.from_bytes(b, "big"), "key": int.from_bytes(k.ljust(32, b"\0"), "big"),
             "aes256": len(k) == 32, "user": n} for k, b, n in jobs], rng=rng, valid_prob=0.7)

    async def consumer(ctx):
        got = await stream_get(ctx, dut.o, len(jobs), rng=rng, ready_prob=0.6)
        assert [(g.block, g.user) for g in got] == expect

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()


def output_cycles(core, sizes):
    """Back-to-back blocks of the given key sizes (1: AES-256), no stalls: the cycle each
    result is taken, counted from the first input cycle. Also checks the results, in order."""
    dut = core(user=8)
    keys = [bytes(range(16)), bytes(range(32))]
    stamps = []
    cyc = [0]

    async def count(ctx):
        while True:
            await ctx.tick()
            cyc[0] += 1

    async def producer(ctx):
        await stream_put(ctx, dut.i, [{"block": i, "key": int.from_bytes(keys[a].ljust(32, b"\0"), "big"),
                                       "aes256": a, "user": i} for i, a in enumerate(sizes)])

    async def consumer(ctx):
        got = await stream_get(ctx, dut.o, len(sizes), on_beat=lambda p: stamps.append(cyc[0] - 1))
        assert [g.block for g in got] == [
            int.from_bytes(aes_ecb(keys[a], i.to_bytes(16, "big")), "big") for i, a in enumerate(sizes)]

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_process(count)
    sim.run()
    return stamps


def test_aes_wide_throughput():
    """One block per cycle whatever the key sizes, fixed latency."""
    stamps = output_cycles(AESWide, [i % 2 for i in range(2 * AESWide.CREDITS)])
    assert [b - a for a, b in zip(stamps, stamps[1:], strict=False)] == [1] * (2 * AESWide.CREDITS - 1)
    assert stamps[0] == AESWide.LATENCY


@pytest.mark.parametrize("aes256", [0, 1])
def test_aes_compact_throughput(aes256):
    """One round per cycle: three blocks in the ring finish every 3·Nr cycles (Nr = 10, 14)."""
    nr = 14 if aes256 else 10
    stamps = output_cycles(AESCompact, [aes256] * 24)
    assert stamps[0] == 3 * nr + 1
    assert [b - a for a, b in zip(stamps, stamps[3:], strict=False)] == [3 * nr] * 21


def test_aes_compact_mixed_key_sizes():
    """Key sizes alternating block by block: results stay in order (checked in output_cycles)
    and the mix costs no more than all-AES-256 blocks would."""
    stamps = output_cycles(AESCompact, [i % 2 for i in range(48)])
    assert (stamps[-1] - stamps[0]) / 47 <= 14
