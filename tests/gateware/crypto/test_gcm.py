"""AES-GCM engine in Amaranth's simulator against NIST CAVS vectors and `cryptography`."""

import random

import pytest

from espline.gateware.crypto.gcm import GCM
from espline.sim.gcmtb.packets import Packet, load_nist, random_packet, throughput_packets
from espline.sim.gcmtb.pysim import run_gcm


@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_nist_subset(config):
    run_gcm(GCM(config), load_nist(subset=True))


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_nist_all(config):
    run_gcm(GCM(config), load_nist(subset=False))


@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_random_stalls(config):
    rng = random.Random(7)
    packets = [random_packet(rng, max_len=100) for _ in range(12)]
    run_gcm(GCM(config), packets, seed=3, valid_prob=0.7, ready_prob=0.6)


def test_gcm_compact_digit11_random_stalls():
    rng = random.Random(17)
    packets = [random_packet(rng, max_len=100) for _ in range(12)]
    run_gcm(GCM("compact", digit=11), packets, seed=4, valid_prob=0.7, ready_prob=0.6)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_random_long(config):
    rng = random.Random(11)
    packets = [random_packet(rng, max_len=9000) for _ in range(10)]
    run_gcm(GCM(config), packets, seed=5, valid_prob=0.8, ready_prob=0.8)


@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_throughput_contract(config):
    """Back-to-back 1500-byte packets, alternating AES-128/AES-256 keys, no stalls.

    wide: 1 block/cycle within a packet and 2 idle input cycles between packets
    (94/96 = 0.979 blocks/cycle); compact: one AES round per cycle, i.e. a packet's
    94 + 2 blocks (H, payload, E_K(J0)) take 96·Nr cycles (Nr = 10, 14), taken three at a time.
    """
    n = 3
    packets = throughput_packets(n, 1500)
    st = run_gcm(GCM(config), packets)["i"]
    per = 94
    firsts = st[::per]
    lasts = st[per - 1::per]
    if config == "wide":
        for k in range(n):
            assert {b - a for a, b in zip(st[k * per:(k + 1) * per - 1], st[k * per + 1:(k + 1) * per],
                                          strict=True)} == {1}
        assert [firsts[k + 1] - lasts[k] - 1 for k in range(n - 1)] == [2] * (n - 1)
        assert per / (firsts[2] - firsts[1]) >= 0.97
    else:
        nr = [10 if k % 2 == 0 else 14 for k in range(n)]
        for k in range(n):
            beats = st[k * per:(k + 1) * per]
            assert {b - a for a, b in zip(beats, beats[3:], strict=False)} == {3 * nr[k]}
        assert [firsts[k + 1] - firsts[k] for k in range(n - 1)] == [(per + 2) * nr[k] for k in range(n - 1)]
        assert 128 * per / (firsts[2] - firsts[1]) >= 8


@pytest.mark.parametrize("key_bytes,cycles", [(16, 13), pytest.param(32, 14, marks=pytest.mark.slow)])
def test_gcm_compact_digit11_throughput(key_bytes, cycles):
    """The gigabit build's compact engine, GHASH digit 11 (13 cycles a GHASH block): back-to-back
    1500-byte packets of one key size take 96 x 14 cycles each with AES-256 (the AES's Nr, as with
    digit 16), and 96 x 13 with AES-128, bound by the GHASH's 96 blocks a packet (AAD, 94 C, lengths)."""
    rng = random.Random(key_bytes)
    packets = [Packet(rng.randbytes(key_bytes), rng.randbytes(12), rng.randbytes(8), rng.randbytes(1500))
               for _ in range(4)]
    firsts = run_gcm(GCM("compact", digit=11), packets)["i"][::94]
    assert [firsts[2] - firsts[1], firsts[3] - firsts[2]] == [96 * cycles] * 2


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_lut_sboxes(config):
    """The LUT S-box mapping behaves like the block-RAM one (same timing, same results)."""
    rng = random.Random(8)
    packets = [random_packet(rng, max_len=300) for _ in range(8)]
    run_gcm(GCM(config, sbox="lut"), packets, seed=9, valid_prob=0.8, ready_prob=0.7)
