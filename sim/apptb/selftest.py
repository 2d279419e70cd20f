"""cocotb tests of the bench itself, on a stand-in DUT with the appliance's ports (see
tests/sim/test_apptb.py): the CSR block (datapath ports tied off) and three loopback FIFOs
plain_i -> cipher_o, cipher_i -> plain_o, host_i -> host_o.

``APPTB_SEED``, ``APPTB_FRAMES``, ``APPTB_VALID_PROB``, ``APPTB_READY_PROB`` as for the bench.
"""

import os
import random

import cocotb

from espline.host.driver import Espline
from espline.regmap.enums import MAGIC
from espline.sim.model import NatT, Policy, SecurityAssociation, Selector

from .components import WishboneMaster
from .tb import ApplianceBench, CocotbTransport

LOOPS = {"plain_i": "cipher_o", "cipher_i": "plain_o", "host_i": "host_o"}


def _env(name, default):
    return type(default)(os.environ.get(name, default))


@cocotb.test()
async def driver_over_cocotb(dut):
    """ID, capabilities, an SA and a policy added and fetched back (key as zeros), counters."""
    tb = ApplianceBench(dut, seed=_env("APPTB_SEED", 1))
    await tb.start()
    dev = await tb.host(Espline, tb.transport(), scan=False)
    assert (await tb.host(dev.regs.read, "id"))["magic"] == MAGIC
    sa_in = SecurityAssociation(spi=0x5634, dir="in", src="198.51.100.2", dst="192.0.2.1", mode="transport",
                                key=bytes(range(36)), icv_bits=96, esn=True, replay_window=64, encap=NatT(4501, 4500))
    sa_out = SecurityAssociation(spi=0x1000, dir="out", src="192.0.2.1", dst="198.51.100.2", mode="tunnel",
                                 key=bytes(range(20)), ttl=17, df="set")
    assert await tb.host(dev.add_sa, sa_in) == 0  # inbound: the lowest free index (docs/sa-table.md)
    assert await tb.host(dev.add_sa, sa_out) == dev.n_sa - 1
    policy = Policy("out", Selector(src="10.1.0.0/16", dst="10.2.0.0/16", proto=17, dport=(53, 53)), "protect",
                    0x1000, priority=7)
    assert await tb.host(dev.add_policy, policy) == 0
    got_in = await tb.host(dev.fetch_sa, 0)
    got_out = await tb.host(dev.fetch_sa, dev.n_sa - 1)
    for got, want in ((got_in, sa_in), (got_out, sa_out)):
        assert got.key == bytes(len(want.key))
        fields = ("spi", "dir", "src", "dst", "mode", "icv_bits", "esn", "replay_window", "encap", "lifetime",
                  "ttl", "df")
        assert {f: getattr(got, f) for f in fields} == {f: getattr(want, f) for f in fields}
    assert await tb.host(dev.fetch_policy, 0) == policy
    assert await tb.host(dev.fetch_sa, 5) is None
    counters = await tb.host(dev.global_counters)
    assert counters and set(counters.values()) == {0}
    c = await tb.host(dev.sa_counters, 0)
    assert (c.packets, c.bytes, c.auth_fail, c.replay, c.seq) == (0, 0, 0, 0, 0)
    dut._log.info("driver over cocotb: %d bus cycles in %d clock cycles", tb.bus.cycles, tb.cycle)


@cocotb.test()
async def loopback_frames(dut):
    """Random frames on all three inputs at once, random stalls: each output gets its input's
    frames bit-exact and in order."""
    seed = _env("APPTB_SEED", 1)
    tb = ApplianceBench(dut, seed=seed, valid_prob=_env("APPTB_VALID_PROB", 0.7),
                        ready_prob=_env("APPTB_READY_PROB", 0.6), burst=_env("APPTB_BURST", 1.0))
    await tb.start()
    rng = random.Random(seed)
    n = _env("APPTB_FRAMES", 200)
    sent = {}
    for name, source in tb.sources.items():
        sizes = [rng.choice([1, 15, 16, 17, 31, 32, 33, rng.randrange(1, 64), rng.randrange(64, 1519)])
                 for _ in range(n)]
        sent[name] = [rng.randbytes(s) for s in sizes]
        source.feed(sent[name])
    budget = 200 * n
    while not all(len(tb.sinks[LOOPS[i]].frames) >= n for i in sent):
        await tb.cycles(64)
        assert tb.cycle < budget, f"watchdog: {tb.cycle} cycles, received " + str(
            {o: len(s.frames) for o, s in tb.sinks.items()})
    await tb.cycles(50)
    for i, frames in sent.items():
        got = tb.sinks[LOOPS[i]].frames
        assert len(got) == n, f"{LOOPS[i]}: {len(got)} frames, expected {n}"
        for k, (g, e) in enumerate(zip(got, frames, strict=True)):
            assert g == e, f"{LOOPS[i]} frame {k}: {len(g)} bytes, expected {len(e)}"
    beats = sum(s.beats for s in tb.sinks.values())
    dut._log.info("loopback: %d frames, %d beats out, %d cycles", 3 * n, beats, tb.cycle)


@cocotb.test()
async def bus_timeout(dut):
    """A bus cycle nobody acknowledges (the stand-in's ``dead`` bus) fails the driver call that
    made it with TimeoutError, rather than hanging the test."""
    tb = ApplianceBench(dut)
    dead = tb.add(WishboneMaster(dut, "dead", timeout=50))
    await tb.start()
    try:
        await tb.host(CocotbTransport(dead).read, 0x40)
    except TimeoutError as e:
        assert "Wishbone read at 0x40: no ack in 50 cycles" in str(e), e
    else:
        raise AssertionError("no TimeoutError")
    assert (await tb.host(tb.transport().read, 0)) == MAGIC  # the bench goes on
