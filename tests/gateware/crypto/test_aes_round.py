"""One AES round (stages S, R, M: SubBytes, ShiftRows, MixColumns, the key step; AddRoundKey by
the consumer) chained over every round of random blocks and keys of both sizes: each round's
output against FIPS-197 written out (aes_truth), the last against `cryptography`'s AES."""

import random

import pytest
from aes_truth import rounds
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from espline.gateware.crypto.aes_key_schedule import key_step_params
from espline.gateware.crypto.aes_round import mix, substitute

STAGES = 3  # S, R, M


def aes_ecb(key, block):
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def round_outputs(sbox, cases):
    """Per (key, block): the state after each round, one round at a time through one round's
    logic, the key window (p, q) moved on as the cores move it."""
    m = Module()
    state, p_, q_ = Signal(128), Signal(128), Signal(128)
    a256, rot, rcon, final = Signal(), Signal(), Signal(8), Signal()
    sub_bytes, sub_word = substitute(m, "r", state, q_, sbox)
    mixed, round_key, k_new = mix(m, "r", sub_bytes, sub_word, p_, q_, a256, rot, rcon, final)
    out = []

    async def bench(ctx):
        for key, block in cases:
            aes256, nr = len(key) == 32, 14 if len(key) == 32 else 10
            k = int.from_bytes(key[:16], "big")
            p, q = (k, int.from_bytes(key[16:], "big")) if aes256 else (k, k)
            s = int.from_bytes(block, "big") ^ k
            states = [s.to_bytes(16, "big")]
            for rnd in range(1, nr + 1):
                ctx.set(state, s)
                ctx.set(p_, p)
                ctx.set(q_, q)
                ctx.set(a256, aes256)
                r, c = key_step_params(rnd, aes256)
                ctx.set(rot, r)
                ctx.set(rcon, c)
                ctx.set(final, rnd == nr)
                await ctx.tick().repeat(STAGES)
                s = ctx.get(mixed) ^ ctx.get(round_key)
                p, q = q, ctx.get(k_new)
                states.append(s.to_bytes(16, "big"))
            out.append(states)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("sbox", ["bram", "lut"])
def test_rounds_against_fips197_and_cryptography(sbox):
    rng = random.Random(5)
    cases = [(bytes.fromhex("000102030405060708090a0b0c0d0e0f"), bytes.fromhex("00112233445566778899aabbccddeeff")),
             (bytes(range(32)), bytes.fromhex("00112233445566778899aabbccddeeff"))]  # FIPS-197 C.1, C.3
    cases += [(rng.randbytes(rng.choice((16, 32))), rng.randbytes(16)) for _ in range(6)]
    got = round_outputs(sbox, cases)
    assert got[0][-1].hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"  # C.1's cipher text
    assert got[1][-1].hex() == "8ea2b7ca516745bfeafc49904b496089"  # C.3's
    for (key, block), states in zip(cases, got, strict=True):
        assert states == rounds(key, block)
        assert states[-1] == aes_ecb(key, block)
