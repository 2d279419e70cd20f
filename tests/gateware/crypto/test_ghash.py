"""GHASH gateware (SP 800-38D §6.4) against GHASH values recovered from ``cryptography``'s AES-GCM.

Packets of 1..N blocks go back to back with the hash key alternating between keys (and a
fresh key now and then), under random valid/ready stalls, for both configurations.
"""

import random
from itertools import pairwise

import pytest
from amaranth.sim import Simulator
from ghash_truth import GcmKey, random_lengths

from espline.gateware.crypto.ghash import GHASH


def gcm_packets(seed, count, max_blocks, *, key_bytes=16):
    """``count`` GCM packets of 1..max_blocks GHASH blocks: [(h, blocks, expected S)]."""
    rng = random.Random(seed)
    keys = [GcmKey(rng, key_bytes) for _ in range(2)]
    packets = []
    for n in range(count):
        key = keys[n % 2] if rng.random() < 0.8 else GcmKey(rng, key_bytes)
        blocks, s = key.packet(rng, *random_lengths(rng, rng.randint(1, max_blocks)))
        packets.append((key.h, blocks, s))
    return packets


def run_ghash(dut, packets, *, seed=0, valid_prob=1.0, ready_prob=1.0, vcd=None):
    """Push ``packets`` ([(h, blocks, _)]) through ``dut``.

    Returns (outputs, cycles at which input blocks were accepted, cycles at which outputs were
    taken); cycles count clock edges from the start of the simulation.
    """
    rng_in, rng_out = random.Random(seed), random.Random(seed + 1)
    beats = [{"block": b, "h": h, "first": j == 0, "last": j == len(blocks) - 1}
             for h, blocks, _ in packets for j, b in enumerate(blocks)]
    accepted, taken, outputs = [], [], []

    async def put(ctx):
        cycle = 0
        for beat in beats:
            while rng_in.random() >= valid_prob:
                await ctx.tick()
                cycle += 1
            ctx.set(dut.i.payload, beat)
            ctx.set(dut.i.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                cycle += 1
                if ready:
                    accepted.append(cycle)
                    break
            ctx.set(dut.i.valid, 0)

    async def get(ctx):
        cycle = 0
        while len(outputs) < len(packets):
            ready = rng_out.random() < ready_prob
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            cycle += 1
            if valid and ready:
                outputs.append(payload)
                taken.append(cycle)
        ctx.set(dut.o.ready, 0)

    sim = Simulator(dut)
    sim.add_clock(8e-9)
    sim.add_testbench(put)
    sim.add_testbench(get)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    return outputs, accepted, taken


def check(dut, packets, **kwargs):
    outputs, accepted, taken = run_ghash(dut, packets, **kwargs)
    expected = [s for _, _, s in packets]
    assert len(outputs) == len(expected)
    for n, (got, want) in enumerate(zip(outputs, expected, strict=True)):
        assert got == want, f"packet {n}: GHASH {got:032x}, cryptography says {want:032x}"
    return accepted, taken


STALLS = {
    "nostall": {},
    "in_stall": {"valid_prob": 0.6},
    "out_stall": {"ready_prob": 0.3},
    "both": {"valid_prob": 0.7, "ready_prob": 0.5},
}


#: wide = pipelined (default), wide1 = single-cycle multiply in the loop.
CONFIGS = {
    "wide": {"config": "wide"},
    "wide1": {"config": "wide", "pipelined": False},
    "compact": {"config": "compact"},
}


@pytest.mark.parametrize("stall", sorted(STALLS))
@pytest.mark.parametrize("variant", sorted(CONFIGS))
def test_ghash_vs_cryptography(variant, stall):
    packets = gcm_packets(seed=sum(map(ord, variant + stall)), count=24, max_blocks=6)
    check(GHASH(**CONFIGS[variant]), packets, seed=7, **STALLS[stall])


@pytest.mark.parametrize("config", ["wide", "compact"])
def test_ghash_aes256_keys(config):
    packets = gcm_packets(seed=99, count=10, max_blocks=4, key_bytes=32)
    check(GHASH(config), packets, seed=3, valid_prob=0.8, ready_prob=0.7)


@pytest.mark.parametrize("variant", sorted(CONFIGS))
def test_throughput_contract(variant):
    """No stalls: blocks accepted every ``cycles_per_block`` cycles, no bubble between packets."""
    dut = GHASH(**CONFIGS[variant])
    packets = gcm_packets(seed=5, count=12, max_blocks=5)
    accepted, taken = check(dut, packets)
    gaps = {b - a for a, b in pairwise(accepted)}
    assert gaps == {dut.cycles_per_block}
    assert dut.cycles_per_block == {"wide": 1, "wide1": 1, "compact": 9}[variant]
    # Latency from a packet's last block to its result: 4 edges (wide: stages A, B, C, then
    # the output register), 1 (wide1), 128/digit + 2 (compact:
    # multiply, reduce the last overflow, register).
    ends = [accepted[k - 1] for k in
            [sum(len(b) for _, b, _ in packets[:n + 1]) for n in range(len(packets))]]
    assert dut.latency == {"wide": 4, "wide1": 1, "compact": 10}[variant]
    assert [t - e for t, e in zip(taken, ends, strict=True)] == [dut.latency] * len(packets)


def test_output_backpressure_holds_result():
    """With o.ready low for a long time, both configs stall and lose nothing."""
    for variant in sorted(CONFIGS):
        packets = gcm_packets(seed=11, count=6, max_blocks=3)
        check(GHASH(**CONFIGS[variant]), packets, ready_prob=0.05)


@pytest.mark.parametrize("digit,cycles", [(8, 17), (10, 14), (11, 13), (32, 5)])
def test_compact_digit_sizes(digit, cycles):
    """ceil(128 / digit) steps a block and one to load it; digits that do not divide 128 too."""
    dut = GHASH("compact", digit=digit)
    assert dut.cycles_per_block == cycles
    packets = gcm_packets(seed=digit, count=8, max_blocks=4)
    accepted, _ = check(dut, packets)
    assert {b - a for a, b in pairwise(accepted)} == {cycles}
    check(GHASH("compact", digit=digit), gcm_packets(seed=digit + 1, count=8, max_blocks=4),
          seed=digit, valid_prob=0.7, ready_prob=0.6)


def test_bad_config():
    with pytest.raises(ValueError):
        GHASH("fast")
    for digit in (0, 65, 12.5):
        with pytest.raises(ValueError):
            GHASH("compact", digit=digit)


@pytest.mark.slow
@pytest.mark.parametrize("variant,digit", [("wide", 16), ("wide1", 16), ("compact", 1), ("compact", 2),
                                           ("compact", 4), ("compact", 11), ("compact", 16), ("compact", 64)])
def test_ghash_long_sweep(variant, digit):
    packets = gcm_packets(seed=1000 + digit, count=150, max_blocks=12)
    check(GHASH(**CONFIGS[variant], digit=digit), packets, seed=digit, valid_prob=0.8, ready_prob=0.6)
