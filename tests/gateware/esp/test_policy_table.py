"""The hardware SPD against the reference model's policy lookup."""

import ipaddress
import random

from amaranth.sim import Simulator

from espline.gateware.csr import table_cmd
from espline.gateware.csr.layouts import layout_of
from espline.gateware.esp.policy_table import PolicyTable
from espline.host import regmap
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


def test_lookups_match_the_model():
    rng = random.Random(5)
    n_policy = 16
    regs = regmap.compile()
    write_layout = table_cmd.write_layout(layout_of(regs.top.get_child_by_name("spd_stage")), n_policy)
    dut = PolicyTable(write_layout, n_policy, regs.params["N_SA"])
    policies = sorted((random_policy(rng) for _ in range(12)), key=lambda p: p.priority)
    spd = PolicyDatabase(policies)
    spis = sorted({p.spi for p in policies if p.spi})
    keys = []
    for _ in range(400):
        def addr():
            return rng.choice((0x0A000000, 0x0A010000, 0xC0000200)) | rng.choice((0, 1, 0x100, 0xFF05))
        keys.append({"dir": rng.randrange(2), "src": addr(), "dst": addr(), "proto": rng.choice((6, 17, 1, 50)),
                     "has_ports": rng.random() < 0.8, "sport": rng.choice((80, 1500, 5, 40000)),
                     "dport": rng.choice((80, 1500, 5, 40000))})

    seen = set()

    async def bench(ctx):
        for i, p in enumerate(policies):
            ctx.set(dut.write.valid, 1)
            ctx.set(dut.write.payload, {"index": i, "valid": 1,
                                        "entry": encode(p, spis.index(p.spi) if p.spi else 0)})
            await ctx.tick()
        ctx.set(dut.write.valid, 0)
        ctx.set(dut.result.ready, 1)
        for key in keys:
            ctx.set(dut.lookup.valid, 1)
            ctx.set(dut.lookup.payload, key)
            await ctx.tick()
            ctx.set(dut.lookup.valid, 0)
            got = ctx.get(dut.result.payload)  # registered: there one cycle after the request
            ports = (key["sport"], key["dport"]) if key["has_ports"] else None
            want = spd.lookup("out" if key["dir"] else "in", key["src"], key["dst"], key["proto"], ports)
            assert ctx.get(dut.result.valid) and got.hit == (want is not None), key
            seen.add(policies.index(want) if want else None)
            if want is not None:
                assert got.index == policies.index(want)
                assert got.action == ACTIONS[want.action]
                assert got.sa_index == (spis.index(want.spi) if want.spi else 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert None in seen and len(seen) > 6  # misses, and hits on many different entries
