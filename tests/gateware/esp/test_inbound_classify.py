"""InboundClassify against the reference model (RFC 4301 §5.2, RFC 4303 §3.4, RFC 3948): the
ciphertext-side frames of seeded traffic mixes, parsed by the gateware parser, classified with
the SA table the driver would load, an empty replay state and an SPD that answers as the
model's. Each frame gets one verdict and one decapsulator job, together; they agree with the
model's verdict on the same frame seen first (a fresh model per frame, as the state is empty):
a frame classify counts itself has the model's counter; one it hands on as ESP names the SA of
its SPI and is one the model decides later (commit), and the GCM command carries that SA's
nonce and AAD (RFC 4106 §4-5)."""

import random

import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator
from control_tb import N_POLICY, N_SA, forward, layouts, parsed_records, program, share_state_port, spd_responder

from espline.gateware.esp.counts import NAMES
from espline.gateware.esp.inbound_classify import InboundClassify, Verdict
from espline.gateware.esp.inbound_control import sa_state_layout
from espline.gateware.esp.sa_table import SaTable
from espline.gateware.esp.splitter import DROP, FORWARD, SPLIT
from espline.sim.apptb.traffic import APPLIANCE, SiteMix, l2_length
from espline.sim.gcmtb.pysim import stream_put
from espline.sim.model import Port

DECIDED_HERE = {"punted", "tx_plain", "drop_keepalive", "drop_no_sa"}  # never after an ESP verdict


class Bench(wiring.Component):
    """Classify with the SA table and an empty dynamic state (nothing received yet)."""

    def __init__(self):
        write, *_ = layouts()
        self.table = SaTable(write, N_SA, readers=1, directions=1)
        self.state = sa_state_layout(128)
        self.classify = InboundClassify(write.members["entry"], self.state, N_SA, N_POLICY, window=128,
                                        default_policy=APPLIANCE["default_policy"], ipv6=APPLIANCE["ipv6"])
        self.outer = ("parsed", "lookup", "policy", "job", "verdict")
        super().__init__({"write": wiring.In(stream.Signature(write)),
                          **{n: self.classify.signature.members[n] for n in self.outer}})

    def elaborate(self, platform):
        m = Module()
        m.submodules.table, m.submodules.classify = t, c = self.table, self.classify
        m.submodules.state = state = Memory(shape=self.state, depth=N_SA, init=[])
        share_state_port(m, state.read_port(), c.state)
        wiring.connect(m, wiring.flipped(self.write), t.write)
        wiring.connect(m, t.read[0], c.sa)
        wiring.connect(m, t.find, c.find)
        m.d.comb += [c.hold.eq(t.hold), t.quiet.eq(c.idle)]
        forward(m, self, c, self.outer)
        return m


def model_counter(verdict, frame) -> str:
    """The model's counter for a frame; "decrypted" for ESP it decrypted and passed on."""
    if verdict.port is Port.HOST:
        return "punted"
    if verdict.port is Port.PLAIN:
        return "tx_plain" if verdict.frame == frame else "decrypted"
    return "drop_" + verdict.reason.value.replace("-", "_")


def esp_at(frame: bytes) -> int:
    """Where the ESP header starts (after the IPv4 header, and the UDP header of ESP-in-UDP)."""
    l2 = l2_length(frame)
    return l2 + 4 * (frame[l2] & 0xF) + 8 * (frame[l2 + 9] == 17)


@pytest.mark.parametrize("seed,mix", [(5, "default"), (9, "hostile")])
def test_classification_matches_the_model(seed, mix):
    site = SiteMix(seed, mix, n_sa=N_SA, n_policy=N_POLICY)
    frames = list(site.frames("cipher_i", 160))
    records = parsed_records(frames)
    sas, _ = site.config()
    expected = [model_counter(site.model().process(Port.CIPHER, f), f) for f in frames]
    dut, rng = Bench(), random.Random(seed)
    seen = set()

    async def feed(ctx):
        await program(ctx, dut.write, sas)
        await stream_put(ctx, dut.parsed, records, rng=rng, valid_prob=0.8)

    async def take(ctx):
        for k, frame in enumerate(frames):
            while True:
                ready = rng.random() < 0.7, rng.random() < 0.7
                ctx.set(dut.verdict.ready, ready[0])
                ctx.set(dut.job.ready, ready[1])
                _, _, offered, valid, verdict, job = await ctx.tick().sample(
                    dut.verdict.valid, dut.job.valid, dut.verdict.payload, dut.job.payload)
                assert offered == valid, "a verdict and a job go together"
                if valid and all(ready):
                    break
            where = f"frame {k} ({len(frame)} bytes; model: {expected[k]})"
            if verdict.kind == Verdict.COUNT:
                counter = NAMES[verdict.counter]
                assert counter == expected[k], where
                action = FORWARD if counter in ("punted", "tx_plain") else DROP
                assert (job.split.action, job.split.tag) == (action, counter == "punted"), where
                seen.add(counter)
                continue
            assert expected[k] not in DECIDED_HERE, where
            sa, at = sas[verdict.sa_index], esp_at(frame)
            assert (sa.dir, sa.spi.to_bytes(4, "big")) == ("in", frame[at : at + 4]), where
            assert job.decrypt == verdict.decrypt and job.split.action == (SPLIT if job.decrypt else DROP), where
            if not verdict.decrypt:
                assert expected[k] in ("drop_malformed", "drop_replay"), where
                seen.add("esp, not decrypted")
                continue
            assert expected[k] != "drop_replay", where
            nonce = sa.key[-4:] + frame[at + 8 : at + 16]  # salt ‖ IV, a big-endian number in the command
            aad = frame[at : at + 8]  # SPI ‖ sequence number (RFC 4106 §5; with ESN the high half between)
            assert job.gcm.iv == int.from_bytes(nonce, "big"), where
            if not sa.esn:
                assert job.gcm.aad >> 64 == int.from_bytes(aad, "big") and job.gcm.aad_len == 8, where
            seen.add("esp")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(feed)
    sim.add_testbench(take)
    sim.add_testbench(spd_responder(dut.lookup, dut.policy, site.model(), "in", sas), background=True)
    sim.run()
    assert {"esp", "punted", "drop_no_sa", "drop_malformed"} <= seen, seen
