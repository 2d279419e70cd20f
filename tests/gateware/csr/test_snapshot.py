"""The per-SA counter snapshot: a select sends one request for its index; the datapath's answer,
whenever it comes, is stored whole once; `busy` covers the time between; an answer offered
while nothing was asked is not taken."""

import random

from amaranth.lib import data

from espline.gateware.csr.snapshot import CounterSnapshot
from espline.sim.packetbus import simulate

COUNTERS = data.StructLayout({"packets": 64, "bytes": 64})


def test_each_select_stores_its_answer_once():
    rng = random.Random(1)
    dut = CounterSnapshot(COUNTERS, 8)
    table = {i: {"packets": rng.getrandbits(64), "bytes": rng.getrandbits(64)} for i in range(8)}
    selects, requests, stored = [], [], []

    async def host(ctx):
        await ctx.tick().repeat(12)  # while the datapath offers a stale answer
        for _ in range(30):
            index = rng.randrange(8)
            ctx.set(dut.index, index)
            ctx.set(dut.select, 1)
            await ctx.tick()
            ctx.set(dut.select, 0)
            selects.append(index)
            while True:  # busy until the answer is stored
                _, _, busy, store, snapshot = await ctx.tick().sample(dut.busy, dut.store, dut.snapshot)
                assert busy
                if store:
                    stored.append((int(snapshot.packets), int(snapshot.bytes)))
                    break
            _, _, busy = await ctx.tick().sample(dut.busy)
            assert not busy
            await ctx.tick().repeat(rng.randint(1, 4))

    async def datapath(ctx):
        ctx.set(dut.response.valid, 1)  # a stale answer, nothing asked
        for _ in range(10):
            _, _, ready, store = await ctx.tick().sample(dut.response.ready, dut.store)
            assert not ready and not store
        ctx.set(dut.response.valid, 0)
        while True:
            ctx.set(dut.request.ready, rng.random() < 0.5)
            _, _, valid, ready, index = await ctx.tick().sample(dut.request.valid, dut.request.ready,
                                                                dut.request.payload)
            if valid and ready:
                ctx.set(dut.request.ready, 0)
                requests.append(int(index))
                await ctx.tick().repeat(rng.randint(1, 6))
                ctx.set(dut.response.payload, table[int(index)])
                ctx.set(dut.response.valid, 1)
                await ctx.tick().until(dut.response.ready)
                ctx.set(dut.response.valid, 0)

    simulate(dut, host, background=(datapath,), cycles=5000)
    assert requests == selects
    assert stored == [(table[i]["packets"], table[i]["bytes"]) for i in selects]
