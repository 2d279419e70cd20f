"""The key step against FIPS-197 §5.2: the round keys of Appendix A.1 (AES-128) and A.3 (AES-256)
and of random keys, one step at a time through the key window, checked against an expansion
written from the standard (aes_truth)."""

import random

import pytest
from aes_truth import expand, sub_word
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from espline.gateware.crypto.aes_key_schedule import key_step, key_step_params

APPENDIX = {  # key: the last round key (FIPS-197 Appendix A.1, A.3: w[40..43], w[56..59])
    "2b7e151628aed2a6abf7158809cf4f3c": "d014f9a8c9ee2589e13f0cc8b6630ca6",
    "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4": "fe4890d1e6188d0b046df344706c631e",
}


def fips_params(rnd: int, aes256: bool):
    """(RotWord applied, Rcon byte) of the word that starts the round key computed in round
    `rnd` (§5.2): AES-128 computes K[rnd], AES-256 K[rnd + 1], from its first word i = 4 * k."""
    i = 4 * (rnd + 1 if aes256 else rnd)
    nk = 8 if aes256 else 4
    if i % nk == 0:
        rcon = 1
        for _ in range(i // nk - 1):
            rcon = rcon << 1 ^ (0x11B if rcon & 0x80 else 0)
        return True, rcon
    return False, 0


@pytest.mark.parametrize("aes256", [False, True])
def test_params_are_the_standards(aes256):
    for rnd in range(1, 11 if not aes256 else 14):
        rot, rcon = key_step_params(rnd, aes256)
        assert (bool(rot), rcon) == fips_params(rnd, aes256), rnd


def round_keys(key: bytes) -> list[bytes]:
    """K[0..Nr] from the gateware's key step, the window moved one step per round."""
    aes256 = len(key) == 32
    p_, q_ = Signal(128), Signal(128)
    sub, rot, rcon, a256 = Signal(32), Signal(), Signal(8), Signal()
    m = Module()
    k_new = key_step(m, sub, p_, q_, a256, rot, rcon)
    keys = [key[:16], key[16:]] if aes256 else [key]

    async def bench(ctx):
        p, q = (key[:16], key[16:]) if aes256 else (key, key)
        ctx.set(a256, aes256)
        for rnd in range(1, 14 if aes256 else 11):
            r, c = fips_params(rnd, aes256)
            ctx.set(p_, int.from_bytes(p, "big"))
            ctx.set(q_, int.from_bytes(q, "big"))
            ctx.set(sub, int.from_bytes(sub_word(q[12:]), "big"))
            ctx.set(rot, r)
            ctx.set(rcon, c)
            new = ctx.get(k_new).to_bytes(16, "big")
            keys.append(new)
            p, q = q, new

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    return keys


@pytest.mark.parametrize("key", list(APPENDIX))
def test_fips197_appendix_a(key):
    keys = round_keys(bytes.fromhex(key))
    assert keys[-1].hex() == APPENDIX[key]
    assert keys == expand(bytes.fromhex(key))


def test_random_keys():
    rng = random.Random(1)
    for size in (16, 32) * 4:
        key = rng.randbytes(size)
        assert round_keys(key) == expand(key)
