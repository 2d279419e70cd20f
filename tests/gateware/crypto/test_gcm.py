"""AES-GCM engine in Amaranth's simulator against NIST CAVS vectors and `cryptography`."""

import random

import pytest

from espline.gateware.crypto.gcm import GCM
from espline.sim.gcmtb.packets import load_nist, random_packet, throughput_packets
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
    (94/96 = 0.979 blocks/cycle); compact: Nr cycles per block (10 or 14).
    """
    n = 3 if config == "wide" else 2
    packets = throughput_packets(n, 1500)
    st = run_gcm(GCM(config), packets)["i"]
    per = 94
    firsts = st[::per]
    lasts = st[per - 1::per]
    for k in range(n):
        gaps = {b - a for a, b in zip(st[k * per:(k + 1) * per], st[k * per + 1:(k + 1) * per], strict=False)}
        assert gaps == ({1} if config == "wide" else {10 if k % 2 == 0 else 14})
    idle = [firsts[k + 1] - lasts[k] - 1 for k in range(n - 1)]
    if config == "wide":
        assert idle == [2] * (n - 1)
        assert per / (firsts[2] - firsts[1]) >= 0.97
    else:
        assert 128 * per / (firsts[1] - firsts[0]) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_lut_sboxes(config):
    """The LUT S-box mapping behaves like the block-RAM one (same timing, same results)."""
    rng = random.Random(8)
    packets = [random_packet(rng, max_len=300) for _ in range(8)]
    run_gcm(GCM(config, sbox="lut"), packets, seed=9, valid_prob=0.8, ready_prob=0.7)
