"""The hardware SPD against the reference model's policy lookup."""

import dataclasses
import ipaddress
import random

import pytest
from amaranth.sim import Simulator

from espline import regmap
from espline.gateware.csr import table_cmd
from espline.gateware.csr.layouts import layout_of
from espline.gateware.esp.policy_table import PolicyTable
from espline.sim.model import Policy, Selector
from espline.sim.model.spd import PolicyDatabase

ACTIONS = {"discard": 0, "bypass": 1, "protect": 2}


def encode(p: Policy, sa_index: int) -> dict:
    """A policy as the table holds it, written out here from the register map's description."""
    s = p.selector
    src, dst = ipaddress.IPv4Network(s.src), ipaddress.IPv4Network(s.dst)
    return {"flags": {"dir": int(p.dir == "out"), "action": ACTIONS[p.action], "proto_any": s.proto is None,
                      "proto": s.proto or 0},
            "priority": p.priority, "src": int(src.network_address), "src_mask": int(src.netmask),
            "dst": int(dst.network_address), "dst_mask": int(dst.netmask),
            "sport": {"lo": s.sport[0], "hi": s.sport[1]}, "dport": {"lo": s.dport[0], "hi": s.dport[1]},
            "sa_index": sa_index}


def random_policy(rng):
    def prefix():
        length = rng.choice((0, 8, 16, 24, 32))
        return str(ipaddress.IPv4Network((rng.choice((0x0A000000, 0x0A010000, 0xC0000200)), length), strict=False))

    def ports():
        return rng.choice(((0, 65535), (0, 65535), (80, 80), (1000, 2000), (0, 1023)))

    action = rng.choice(("protect", "bypass", "discard"))
    return Policy(rng.choice(("in", "out")), Selector(prefix(), prefix(), rng.choice((None, None, 6, 17, 1)),
                                                     ports(), ports()),
                  action, rng.randrange(256, 1 << 20) if action == "protect" else None, rng.randrange(4))


def expected(spd, out_spd, spis, key):
    """The model's first match and its `admits` for one key; an outbound key asks the same of the
    outbound policies (`out_spd`: them, turned inbound)."""
    ports = (key["sport"], key["dport"]) if key["has_ports"] else None
    fields = (key["src"], key["dst"], key["proto"], ports)
    first = spd.lookup("out" if key["dir"] else "in", *fields)
    spi = spis[key["sa_index"]] if key["sa_index"] < len(spis) else -1  # -1: an SA no policy names
    return first, (out_spd if key["dir"] else spd).admits(spi, *fields)


@pytest.mark.parametrize("lookups", [1, 3])
def test_lookups_match_the_model(lookups):
    rng = random.Random(5 + lookups)
    n_policy = 16
    regs = regmap.compile()
    n_sa = regs.params["N_SA"]
    write_layout = table_cmd.write_layout(layout_of(regs.top.get_child_by_name("spd_stage")), n_policy)
    dut = PolicyTable(write_layout, n_policy, n_sa, lookups)
    broad = [Policy("in", Selector("10.0.0.0/8"), "protect", 0x100, 3),  # overlapping SAs, as in a rekey
             Policy("in", Selector(dst="10.0.0.0/8", proto=17), "protect", 0x101, 3),
             Policy("out", Selector("10.0.0.0/15"), "protect", 0x102, 3)]
    policies = sorted([random_policy(rng) for _ in range(12)] + broad, key=lambda p: p.priority)
    spd = PolicyDatabase(policies)
    out_spd = PolicyDatabase([dataclasses.replace(p, dir="in") for p in policies if p.dir == "out"])
    spis = sorted({p.spi for p in policies if p.spi})
    assert len(spis) < n_sa

    def addr():
        return rng.choice((0x0A000000, 0x0A010000, 0xC0000200)) | rng.choice((0, 1, 0x100, 0xFF05))

    def key():
        k = {"dir": rng.randrange(2), "src": addr(), "dst": addr(), "proto": rng.choice((6, 17, 1, 50)),
             "has_ports": rng.random() < 0.8, "sport": rng.choice((80, 1500, 5, 40000)),
             "dport": rng.choice((80, 1500, 5, 40000)), "sa_index": rng.randrange(len(spis) + 1)}
        ports = (k["sport"], k["dport"]) if k["has_ports"] else None
        protecting = [p.spi for p in policies if p.spi and p.dir == ("out" if k["dir"] else "in")
                      and p.selector.matches(k["src"], k["dst"], k["proto"], ports)]
        if protecting and rng.random() < 0.7:  # often an SA whose policy covers the key
            k["sa_index"] = spis.index(rng.choice(protecting))
        return k

    keys = [[key() for _ in range(300)] for _ in range(lookups)]
    results = [[] for _ in range(lookups)]

    async def writer(ctx):
        for i, p in enumerate(policies):
            ctx.set(dut.write.valid, 1)
            ctx.set(dut.write.payload, {"index": i, "valid": 1,
                                        "entry": encode(p, spis.index(p.spi) if p.spi else 0)})
            await ctx.tick()
        ctx.set(dut.write.valid, 0)

    def driver(port):
        async def bench(ctx):
            await ctx.tick().repeat(len(policies))
            for k in keys[port]:
                while rng.random() < 0.3:
                    ctx.set(dut.lookup[port].valid, 0)
                    await ctx.tick()
                ctx.set(dut.lookup[port].valid, 1)
                ctx.set(dut.lookup[port].payload, k)
                await ctx.tick().until(dut.lookup[port].ready)
            ctx.set(dut.lookup[port].valid, 0)
        return bench

    def collector(port):
        async def bench(ctx):
            while len(results[port]) < len(keys[port]):
                ready = rng.random() >= 0.3
                ctx.set(dut.result[port].ready, ready)
                _, _, valid, r = await ctx.tick().sample(dut.result[port].valid, dut.result[port].payload)
                if valid and ready:
                    results[port].append(r)
        return bench

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(writer)
    for port in range(lookups):
        sim.add_testbench(driver(port))
        sim.add_testbench(collector(port))
    sim.run()

    seen, admitted = set(), 0
    for port in range(lookups):
        for k, got in zip(keys[port], results[port], strict=True):
            want, admits = expected(spd, out_spd, spis, k)
            assert got.hit == (want is not None), k
            assert got.admitted == admits, k
            admitted += admits
            seen.add(policies.index(want) if want else None)
            if want is not None:
                assert got.index == policies.index(want)
                assert got.action == ACTIONS[want.action]
                assert got.sa_index == (spis.index(want.spi) if want.spi else 0)
    assert None in seen and len(seen) > 6  # misses, and hits on many different entries
    assert 0.1 < admitted / (300 * lookups) < 0.9


def test_ports_take_turns():
    """Three ports asking at once, again and again (results always taken, the next lookup ready at
    once): picked in turn, one a cycle, each result five cycles after its pick (pick, key, checks,
    match, result registers), so the first results come 6, 7 and 8 cycles after the start; a port
    asks again once its result is taken, so then every port has one every 6 cycles; each right for
    its own port's key."""
    regs = regmap.compile()
    write_layout = table_cmd.write_layout(layout_of(regs.top.get_child_by_name("spd_stage")), 4)
    dut = PolicyTable(write_layout, 4, regs.params["N_SA"], lookups=3)
    policy = Policy("in", Selector("10.0.0.0/8", "0.0.0.0/0"), "protect", 0x1234)
    waits = {0: [], 1: [], 2: []}

    async def bench(ctx):
        ctx.set(dut.write.valid, 1)
        ctx.set(dut.write.payload, {"index": 2, "valid": 1, "entry": encode(policy, 5)})
        await ctx.tick()
        ctx.set(dut.write.valid, 0)
        for port in range(3):
            ctx.set(dut.result[port].ready, 1)
            ctx.set(dut.lookup[port].valid, 1)
            ctx.set(dut.lookup[port].payload, {"dir": 0, "src": 0x0A000001, "sa_index": 4 + port})
        last, cycle = [0, 0, 0], 0
        while cycle < 40:
            _, _, *sampled = await ctx.tick().sample(*[dut.lookup[p].ready for p in range(3)],
                                                     *[dut.result[p].valid for p in range(3)],
                                                     *[dut.result[p].payload for p in range(3)])
            cycle += 1
            valid, result = sampled[3:6], sampled[6:]
            for port in range(3):
                if valid[port]:
                    r = result[port]
                    assert (r.hit, r.index, r.admitted) == (1, 2, int(port == 1))
                    waits[port].append(cycle - last[port])
                    last[port] = cycle

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert [w[0] for w in waits.values()] == [6, 7, 8]
    assert all(set(w[1:]) == {6} and len(w) >= 6 for w in waits.values())
