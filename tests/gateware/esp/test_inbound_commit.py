"""InboundCommit, case by case, against the rules of RFC 4303 (the expected outcome of each case
is stated from the RFC, not read from the gateware): the checks in order - SA dead, ESP length,
replay window, ICV - then the window update only after the ICV verified (§3.4.3), padding
(§2.4), dummy packet (§2.6), inner header (tunnel), the SA's policy check (RFC 4301 §5.2), each
frame counted once, committed or discarded, the auth-fail threshold event."""

import random

from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator
from control_tb import N_POLICY, N_SA, forward, layouts, program, share_state_port

from espline.gateware.esp.counts import NAMES
from espline.gateware.esp.inbound_classify import Verdict, counter
from espline.gateware.esp.inbound_commit import InboundCommit
from espline.gateware.esp.inbound_control import sa_state_layout
from espline.gateware.esp.replay import started_at
from espline.gateware.esp.sa_table import SaTable, renew
from espline.regmap.enums import Dir, Event
from espline.sim.model import ipv4
from espline.sim.sites import hosts, two_sites
from espline.sim.traffic import ip_packet

WINDOW = 128


class Bench(wiring.Component):
    """Commit with the SA table and the inbound dynamic state it reads and writes."""

    def __init__(self):
        write, counters, event, thresholds = layouts()
        self.table = SaTable(write, N_SA, readers=1, directions=1)
        self.state = sa_state_layout(WINDOW)
        self.decide = InboundCommit(write.members["entry"], self.state, thresholds, event, N_SA, N_POLICY,
                                    window=WINDOW)
        self.outer = ("verdict", "counted", "icv", "trailer", "commit", "admit_lookup", "admit", "events",
                      "thresholds")
        super().__init__({"write": wiring.In(stream.Signature(write)),
                          **{n: self.decide.signature.members[n] for n in self.outer}})

    def elaborate(self, platform):
        m = Module()
        m.submodules.table, m.submodules.decide = t, c = self.table, self.decide
        m.submodules.state = state = Memory(shape=self.state, depth=N_SA, init=[])
        write = state.write_port()
        share_state_port(m, state.read_port(), c.state)
        m.d.comb += [write.addr.eq(c.state_write.addr), write.data.eq(c.state_write.data),
                     write.en.eq(c.state_write.en)]
        renew(m, t.renewed, write, Dir.IN, window=started_at(WINDOW, t.renewed.seq))
        wiring.connect(m, wiring.flipped(self.write), t.write)
        wiring.connect(m, t.read[0], c.sa)
        m.d.comb += t.quiet.eq(1)
        forward(m, self, c, self.outer)
        return m


INNER = ip_packet(120, *hosts("tunnel"), "udp", seed=1)

# (seq, icv ok, pad ok, next header, admitted) -> the counter RFC 4303 / 4301 give the frame
CASES = [
    ((1, True, True, 4, True), "tx_plain"),
    ((1, True, True, 4, True), "drop_replay"),  # a copy that raced through classify
    ((3, False, True, 4, True), "drop_auth_fail"),
    ((3, True, True, 4, True), "tx_plain"),  # the failed ICV did not move the window
    ((2, True, True, 4, True), "tx_plain"),  # below the top, inside the window, not seen
    ((4, True, False, 4, True), "drop_bad_pad"),
    ((4, True, True, 4, True), "drop_replay"),  # the bad-pad frame's ICV verified: 4 is taken
    ((5, True, True, 59, True), "drop_dummy"),
    ((6, True, True, 17, True), "drop_malformed"),  # tunnel mode: the inner packet must be IPv4
    ((7, True, True, 4, False), "drop_policy"),  # no policy of this SA covers the inner packet
    ((8, False, True, 4, True), "drop_auth_fail"),  # the second: the threshold (2) raises its event
    ((0x100, True, True, 4, True), "tx_plain"),  # far ahead: the window slides
    ((0x100 - WINDOW, True, True, 4, True), "drop_replay"),  # now left of the window
]


def test_checks_in_the_rfcs_order():
    a, _ = two_sites("tunnel")
    sas = [sa for sa in a.sad if sa.dir == "in"]
    dut, rng = Bench(), random.Random(1)
    counted, committed, admits, events = [], [], [], []

    async def feed(ctx):
        ctx.set(dut.thresholds.auth_fail, 2)
        await program(ctx, dut.write, sas)
        ctx.set(dut.verdict.payload, {"kind": Verdict.COUNT, "counter": counter("punted")})
        ctx.set(dut.verdict.valid, 1)  # a frame classify decided: counted here, not committed
        await ctx.tick().until(dut.verdict.ready)
        for (seq, icv, pad, next_header, admitted), _ in CASES:
            admits.append(admitted)
            ctx.set(dut.verdict.payload, {"kind": Verdict.ESP, "decrypt": 1, "sa_index": 0, "seq_low": seq,
                                          "l2_len": 14, "ihl": 5})
            ctx.set(dut.verdict.valid, 1)
            ctx.set(dut.icv.payload.ok, icv)
            ctx.set(dut.trailer.payload, {"payload_len": len(INNER), "next_header": next_header, "pad_ok": pad,
                                          "head": int.from_bytes(INNER[:20], "little"),
                                          "after_header": int.from_bytes(INNER[4 * (INNER[0] & 0xF) :][:4], "little"),
                                          "head_checksum_ok": ipv4.checksum(INNER[: 4 * (INNER[0] & 0xF)]) == 0})
            ctx.set(dut.icv.valid, 1)
            ctx.set(dut.trailer.valid, 1)
            await ctx.tick().until(dut.verdict.ready)
            ctx.set(dut.verdict.valid, 0)
            ctx.set(dut.icv.valid, 0)
            ctx.set(dut.trailer.valid, 0)
            for _ in range(rng.randrange(3)):
                await ctx.tick()
        for _ in range(20):
            await ctx.tick()

    async def observe(ctx):
        ctx.set(dut.events.ready, 1)
        ctx.set(dut.admit_lookup.ready, 1)
        while True:
            ready = rng.random() < 0.5
            ctx.set(dut.commit.ready, ready)
            _, _, pulses, commit_valid, commit, lookup, event_valid, event = await ctx.tick().sample(
                dut.counted, dut.commit.valid, dut.commit.payload, dut.admit_lookup.valid, dut.events.valid,
                dut.events.payload)
            counted.extend(NAMES[i] for i in range(len(NAMES)) if pulses >> i & 1)
            if commit_valid and ready:
                committed.append((commit.ok, commit.length))
            if event_valid:
                events.append((Event(event.kind), event.index))
            if lookup:
                ctx.set(dut.admit.payload.admitted, admits[-1])
                ctx.set(dut.admit.valid, 1)
                await ctx.tick().until(dut.admit.ready)
                ctx.set(dut.admit.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(feed)
    sim.add_testbench(observe, background=True)
    sim.run()
    assert counted == ["punted"] + [name for _, name in CASES]
    assert committed == [(name == "tx_plain", 14 + len(INNER)) if name == "tx_plain" else (0, committed_len)
                         for (_, name), (_, committed_len) in zip(CASES, committed, strict=True)]
    assert events == [(Event.AUTH_FAIL_THRESHOLD, 0)]
