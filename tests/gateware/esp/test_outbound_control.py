"""OutboundControl against the reference model, frame by frame (RFC 4301 §5.1, RFC 4303 §3.3):
the frames of a seeded traffic mix, parsed by the gateware parser, decided with the SA table the
driver would load and an SPD that answers as the model's; each frame's job (drop, forward or
encapsulate, and for ESP the SPI, sequence number, IV and outer header) and its counter as the
model's verdict on the same frame, under random stalls of the job stream."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.sim import Simulator
from control_tb import N_POLICY, N_SA, forward, layouts, parsed_records, program, spd_responder

from espline.gateware.esp.counts import NAMES
from espline.gateware.esp.outbound_control import OutboundControl
from espline.gateware.esp.sa_table import SaTable
from espline.gateware.esp.splitter import DROP, FORWARD, SPLIT
from espline.sim.apptb.traffic import APPLIANCE, SiteMix, l2_length
from espline.sim.gcmtb.pysim import stream_put
from espline.sim.model import Port


class Bench(wiring.Component):
    """The control with the SA table it reads."""

    def __init__(self):
        write, counters, event, _ = layouts()
        self.table = SaTable(write, N_SA, readers=1, directions=1)
        self.control = OutboundControl(write.members["entry"], counters, event, N_SA, N_POLICY, **APPLIANCE)
        super().__init__({"write": wiring.In(stream.Signature(write)),
                          **{n: m for n, m in self.control.signature.members.items() if n != "table"}})

    def elaborate(self, platform):
        m = Module()
        m.submodules.table, m.submodules.control = t, c = self.table, self.control
        wiring.connect(m, wiring.flipped(self.write), t.write)
        wiring.connect(m, t.read[0], c.table.read)
        m.d.comb += [c.table.hold.eq(t.hold), c.table.renewed.eq(t.renewed), t.quiet.eq(c.table.quiet)]
        forward(m, self, c, [n for n in self.signature.members if n != "write"])
        return m


@pytest.mark.parametrize("seed,no_number_left",
                         [pytest.param(3, False, marks=pytest.mark.slow), (11, False), (11, True)],
                         ids=["3", "11", "11-started-beyond-the-last-number"])
def test_decisions_match_the_model(seed, no_number_left):
    """`no_number_left`: every outbound SA is written with a starting number (SEQ) that leaves it
    none - its last number or beyond, as no validated configuration has it but a register write
    may: it starts dead, as a model SA past its end is (`sa-expired`), and nothing wraps."""
    site = SiteMix(seed, n_sa=N_SA, n_policy=N_POLICY)
    frames = list(site.frames("plain_i", 150))
    records = parsed_records(frames)
    model = site.model()
    sas, _ = site.config()
    dut, rng = Bench(), random.Random(seed)
    beyond = {}  # outbound SA index -> its SEQ
    if no_number_left:
        for i, sa in enumerate(sas):
            if sa.dir == "out":
                last = sa.seq_max
                beyond[i] = rng.choice((last, last + 1, (1 << 64) - 1, rng.randint(last, (1 << 64) - 1)))
                model.sad.get("out", sa.spi).dead = True
    verdicts = [model.process(Port.PLAIN, f) for f in frames]
    seen = set()

    async def feed(ctx):
        ctx.set(dut.events.ready, 1)
        await program(ctx, dut.write, sas, beyond)
        await stream_put(ctx, dut.parsed, records, rng=rng, valid_prob=0.8)

    async def jobs(ctx):
        for k, (frame, verdict) in enumerate(zip(frames, verdicts, strict=True)):
            while True:
                ready = rng.random() < 0.6
                ctx.set(dut.job.ready, ready)
                _, _, valid, job = await ctx.tick().sample(dut.job.valid, dut.job.payload)
                if valid and ready:
                    break
            where = f"frame {k} ({len(frame)} bytes, model: {verdict.reason or verdict.port})"
            if verdict.port is None:
                assert job.action == DROP, where
                seen.add(verdict.reason)
                continue
            out = verdict.frame
            if out == frame:
                assert job.action == FORWARD, where
                seen.add("bypass")
                continue
            assert job.action == SPLIT, where
            seen.add("esp")
            l2 = l2_length(out)
            esp_at = l2 + 4 * (out[l2] & 0xF) + 8 * (out[l2 + 9] == 17)  # after the outer IPv4 (and UDP) header
            assert job.esp.to_bytes(16, "little") == out[esp_at : esp_at + 16], where
            if job.tunnel:
                assert job.outer.to_bytes(20, "little") == out[l2 : l2 + 20], where

    counts = []

    async def count(ctx):
        while True:
            _, _, pulses = await ctx.tick().sample(dut.counts)
            counts.extend(name for name in NAMES if getattr(pulses, name) and name != "rx_plain")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(feed)
    sim.add_testbench(jobs)
    for process in (spd_responder(dut.lookup, dut.policy, site.model(), "out", sas), count):
        sim.add_testbench(process, background=True)
    sim.run()
    expected = ["tx_cipher" if v.port else f"drop_{v.reason.value.replace('-', '_')}" for v in verdicts]
    assert counts == expected
    if no_number_left:
        assert "esp" not in seen and counts.count("drop_sa_expired") > 5
    else:
        assert {"esp", "bypass"} <= seen and len(seen) >= 4, seen
