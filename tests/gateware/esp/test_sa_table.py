"""The SA table against a dictionary and the SPI index rule (docs/sa-table.md): writes taken only
once every direction is quiet, whole entries, an update keeping key and salt, a renewal of the
dynamic state for new and deleted SAs but not for updates, inbound SPIs found where the rule
puts them, and an inbound commit refused (nothing written) when its rows are full; readers that
share a copy of the entries take its read port in turn."""

import itertools
import random

from amaranth.sim import Simulator

from espline import regmap as rm
from espline.gateware.csr.csr import CsrBlock
from espline.gateware.esp.sa_table import SaTable
from espline.regmap.enums import Dir
from espline.regmap.spi_index import SpiIndex, hashes, rows

N_SA = 8


def write_layout():
    csr = CsrBlock(rm.compile(N_SA=N_SA, N_POLICY=2))
    csr._MustUse__silence = True  # built for its layouts only
    return csr.sa_write.payload.shape()


def test_writes_reads_renewals_and_the_spi_index():
    rng, starts = random.Random(7), random.Random(8)
    dut = SaTable(write_layout(), N_SA, readers=3, copies=(0, 1, 0))
    # SPIs of one row, which fills up, and a few others
    crowd = list(itertools.islice((s for s in itertools.count(0x1000) if hashes(s, rows(N_SA)) == (0, 0)), 8))
    crowd += [rng.getrandbits(32) for _ in range(4)]
    table, index = {}, SpiIndex(N_SA)  # index -> (spi, dir, key0, salt, src)
    seen = {"refused": 0, "update": 0, "delete": 0, "commit": 0}

    async def offer(ctx, op, i, spi=0, dir=Dir.OUT, key0=0, salt=0, src=0, start=(0, 0)):
        """`start`: the entry's starting number and ESN flag, which a commit hands to the directions."""
        w = dut.write.payload
        ctx.set(w.entry.seq, start[0])
        ctx.set(w.entry.flags.esn, start[1])
        for field, value in (("index", i), ("valid", op != "delete"), ("update", op == "update")):
            ctx.set(getattr(w, field), value)
        for field, value in (("spi", spi), ("salt", salt), ("src", src)):
            ctx.set(getattr(w.entry, field), value)
        ctx.set(w.entry.flags.dir, dir)
        ctx.set(w.entry.key[0], key0)
        ctx.set(dut.write.valid, 1)
        quiet_after = [rng.randrange(6), rng.randrange(6)]  # each direction finishes its frame
        for cycle in range(40):
            quiet = [int(cycle >= q) for q in quiet_after]
            ctx.set(dut.quiet, quiet[0] | quiet[1] << 1)
            assert ctx.get(dut.hold)
            if ctx.get(dut.write.ready):
                assert cycle > max(quiet_after), "taken before every direction was quiet"
                refused = ctx.get(dut.refused)
                assert not ctx.get(dut.renewed.en)
                await ctx.tick()
                ctx.set(dut.write.valid, 0)
                # the cycle after: the renewal, the directions still held
                renewed, renewed_index = ctx.get(dut.renewed.en), ctx.get(dut.renewed.index)
                assert ctx.get(dut.hold) == renewed
                if renewed:  # the written entry's direction, starting number and ESN flag
                    assert (ctx.get(dut.renewed.dir), ctx.get(dut.renewed.seq), ctx.get(dut.renewed.esn)) == \
                        (dir, *start)
                await ctx.tick()
                assert not ctx.get(dut.renewed.en)
                break
            assert not ctx.get(dut.renewed.en)
            await ctx.tick()
        else:
            raise AssertionError(f"{op} {i} never taken")
        ctx.set(dut.write.valid, 0)
        ctx.set(dut.quiet, 0)
        return refused, renewed, renewed_index

    async def bench(ctx):
        for step in range(150):
            i = rng.randrange(N_SA)
            old = table.get(i)
            if old is None or rng.random() < 0.2:  # a new SA (the CSR block checks it is free)
                if old is not None:
                    await offer(ctx, "delete", i)
                    if old[1] == Dir.IN:
                        index.remove(old[0], i)
                    del table[i]
                spi, dir = rng.choice(crowd), Dir.IN if rng.random() < 0.8 else Dir.OUT
                if dir == Dir.IN and any(e[0] == spi and e[1] == Dir.IN for e in table.values()):
                    continue  # inbound SPIs are unique (the driver's rule)
                entry = (spi, dir, rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32))
                start = (starts.choice((0, starts.getrandbits(64))), starts.getrandbits(1))  # replay-(o)seq, ESN
                refused, renewed, where = await offer(ctx, "commit", i, *entry, start=start)
                fits = dir == Dir.OUT or index.insert(spi, i)
                assert refused == (not fits), f"step {step}: commit {spi:#x}"
                assert renewed == fits and (not fits or where == i)
                if fits:
                    table[i] = entry
                seen["commit" if fits else "refused"] += 1
            elif rng.random() < 0.5:  # an update: same SPI and dir, new src, key and salt ignored
                spi, dir, key0, salt, _ = old
                src = rng.getrandbits(32)
                refused, renewed, _ = await offer(ctx, "update", i, spi, dir, key0 ^ 1, salt ^ 1, src)
                assert not refused and not renewed
                table[i] = (spi, dir, key0, salt, src)
                seen["update"] += 1
            else:
                refused, renewed, where = await offer(ctx, "delete", i)
                assert not refused and renewed and where == i
                if old[1] == Dir.IN:
                    index.remove(old[0], i)
                del table[i]
                seen["delete"] += 1
            for k in range(N_SA):  # every entry, through a reader's port
                r = rng.randrange(3)
                port = dut.read[r]
                # readers 0 and 2 share a copy: the first has it first, the other waits a cycle
                rival = dut.read[2 - r] if r != 1 and rng.random() < 0.5 else None
                ctx.set(port.addr, k)
                ctx.set(port.en, 1)
                if rival is not None:
                    ctx.set(rival.addr, (k + 1) % N_SA)
                    ctx.set(rival.en, 1)
                    assert ctx.get(port.granted) == (r == 0) and ctx.get(rival.granted) == (r == 2)
                    await ctx.tick()
                    ctx.set(rival.en, 0)
                assert ctx.get(port.granted)
                await ctx.tick()
                ctx.set(port.en, 0)
                if r != 2:  # the first reader of a copy keeps its entry while it keeps the index
                    for _ in range(rng.randrange(3)):
                        await ctx.tick()
                e = port.data
                got = (ctx.get(e.sa.spi), ctx.get(e.sa.flags.dir), ctx.get(e.sa.key[0]), ctx.get(e.sa.salt),
                       ctx.get(e.sa.src)) if ctx.get(e.valid) else None
                assert got == table.get(k), f"step {step}: entry {k}"
            for spi in rng.sample(crowd, 4):
                ctx.set(dut.find.spi, spi)
                await ctx.tick()
                want = index.find(spi)
                assert (ctx.get(dut.find.hit), ctx.get(dut.find.index) if want is not None else None) == \
                    (want is not None, want)
        assert all(n > 1 for n in seen.values()), seen

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
