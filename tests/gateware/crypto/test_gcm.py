"""AES-GCM engine in Amaranth's simulator against NIST CAVS vectors and `cryptography`."""

import random

import pytest
from amaranth.sim import Simulator
from crypto_tb import stream_get, stream_put

from espline.gateware.crypto.gcm import GCM
from espline.sim.cocotb_gcm.packets import encode, expected_beats, load_nist, random_packet


def run_gcm(config, packets, *, seed=0, valid_prob=1.0, ready_prob=1.0, vcd=None):
    """Push ``packets`` through GCM(config) and check every output beat; return beat stamps."""
    rng = random.Random(seed)
    dut = GCM(config)
    enc = [encode(p) for p in packets]
    expect = [b for p in packets for b in expected_beats(p)]
    stamps = []

    async def cmd_tb(ctx):
        await stream_put(ctx, dut.cmd, [c for c, _ in enc], rng=rng, valid_prob=valid_prob)

    async def data_tb(ctx):
        await stream_put(ctx, dut.i, [b for _, bs in enc for b in bs], rng=rng, valid_prob=valid_prob)

    async def out_tb(ctx):
        got = await stream_get(ctx, dut.o, len(expect), rng=rng, ready_prob=ready_prob,
                               on_beat=lambda c, p: stamps.append(c))
        got = [(g.data, g.nbytes, g.last, g.ok if g.last else 0) for g in got]
        for n, (g, e) in enumerate(zip(got, expect, strict=True)):
            assert g == e, f"beat {n}: got {g}, expected {e}"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(cmd_tb)
    sim.add_testbench(data_tb)
    sim.add_testbench(out_tb)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return stamps


@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_nist_subset(config):
    run_gcm(config, load_nist(subset=True))


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_nist_all(config):
    run_gcm(config, load_nist(subset=False))


@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_random_stalls(config):
    rng = random.Random(7)
    packets = [random_packet(rng, max_len=100) for _ in range(12)]
    run_gcm(config, packets, seed=3, valid_prob=0.7, ready_prob=0.6)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["wide", "compact"])
def test_gcm_random_long(config):
    rng = random.Random(11)
    packets = [random_packet(rng, max_len=9000) for _ in range(10)]
    run_gcm(config, packets, seed=5, valid_prob=0.8, ready_prob=0.8)
