"""The formal proofs (espline.sim.formal, docs/verification.md) at their default depth, the deeper
bounded runs under `slow`, and mutation checks: a broken unit must make its proof fail."""

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring

from espline.gateware.esp.frame_join import FrameJoin
from espline.gateware.esp.outbound_control import OutboundControl
from espline.gateware.esp.packet_buffer import PacketBuffer
from espline.gateware.esp.sa_table import SaTable
from espline.sim.formal import PROOFS
from espline.sim.formal.frames import FramesInStep, Job
from espline.sim.formal.join import JoinAlone
from espline.sim.formal.runner import run
from espline.sim.formal.sequence import SequenceNumbers
from espline.sim.formal.verified import VerifiedBuffer

#: the depth `sequence` runs at, within which each mutant below must fail it
SEQUENCE_DEPTH = next(p.depth for p in PROOFS if p.name == "sequence")


def check(result, expected="PASS"):
    assert result.status == expected, f"{result}\n{result.log[-3000:]}"


@pytest.mark.parametrize("proof", PROOFS, ids=[p.name for p in PROOFS])
def test_proof(proof):
    check(proof.run())


SLOW = [p for p in PROOFS if p.slow_depth is not None]


@pytest.mark.slow
@pytest.mark.parametrize("proof", SLOW, ids=[p.name for p in SLOW])
def test_proof_deeper(proof):
    check(proof.run(proof.slow_depth))


class PassOnMismatch(wiring.Component):
    """A broken join: a `FrameJoin` told that every stored frame carries the offered job's number."""

    def __init__(self, job, width):
        self.inner = FrameJoin(job, width)
        super().__init__(dict(self.inner.signature.members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        for name in ("frame", "job"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(inner, name))
        for name in ("frame_o", "job_o"):
            wiring.connect(m, getattr(inner, name), wiring.flipped(getattr(self, name)))
        m.d.comb += [inner.tag.eq(self.job.payload.tag), self.desync.eq(inner.desync)]
        return m


def test_mutation_store_without_placeholders():
    """An empty frame that leaves no placeholder: jobs and frames fall out of step."""
    harness = FramesInStep(store=lambda: PacketBuffer(4, depth=4, frames=2, placeholders=False))
    result = run("frames", harness, "bmc", 12, tag="-mutant-store")
    check(result, "FAIL")
    assert "failed assertion" in result.log


def test_mutation_join_passes_on_mismatch():
    result = run("join", JoinAlone(join=lambda: PassOnMismatch(Job, 2)), "bmc", 6, tag="-mutant-join")
    check(result, "FAIL")
    assert "failed assertion" in result.log


def test_mutation_verified_with_placeholders():
    """A verified buffer that puts out a placeholder beat for a discarded frame."""
    harness = VerifiedBuffer(store=lambda: PacketBuffer(4, depth=4, frames=2, placeholders=True))
    result = run("verified", harness, "bmc", 12, tag="-mutant")
    check(result, "FAIL")
    assert "failed assertion" in result.log


class ReplayingControl(wiring.Component):
    """A broken control: its job queue offers every job twice (one nonce used for two packets)."""

    def __init__(self, *args):
        self.inner = OutboundControl(*args)
        super().__init__(dict(self.inner.signature.members))

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = self.inner
        for name, member in self.signature.members.items():
            if name == "job":
                continue
            if member.is_port:
                if member.flow == wiring.In:
                    m.d.comb += getattr(inner, name).eq(getattr(self, name))
                else:
                    m.d.comb += getattr(self, name).eq(getattr(inner, name))
            elif member.flow == wiring.In:
                wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(inner, name))
            else:
                wiring.connect(m, getattr(inner, name), wiring.flipped(getattr(self, name)))
        again, held = Signal(), Signal.like(self.job.payload)
        with m.If(again):
            m.d.comb += [self.job.valid.eq(1), self.job.payload.eq(held)]
            with m.If(self.job.ready):
                m.d.sync += again.eq(0)
        with m.Else():
            m.d.comb += [self.job.valid.eq(inner.job.valid), self.job.payload.eq(inner.job.payload),
                         inner.job.ready.eq(self.job.ready)]
            with m.If(inner.job.valid & self.job.ready):
                m.d.sync += [again.eq(1), held.eq(inner.job.payload)]
        return m


def test_mutation_control_replays_a_job():
    result = run("sequence", SequenceNumbers(control=ReplayingControl), "bmc", SEQUENCE_DEPTH, tag="-mutant",
                 map_memories=True)
    check(result, "FAIL")
    assert "failed assertion" in result.log


class RenewingTable(SaTable):
    """68a5381's nonce reuse: an SA table whose update keeps the key but renews the SA's dynamic
    state (its sequence number restarts at 1 under the same key)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(self.write.valid & self.write.ready):
            m.d.comb += [self.renewed.en.eq(1), self.renewed.index.eq(self.write.payload.index)]
        return m


@pytest.mark.slow
def test_mutation_update_restarts_the_sequence():
    """An update that zeroes the SA's dynamic state must fail `sequence`."""
    result = run("sequence", SequenceNumbers(table=RenewingTable), "bmc", SEQUENCE_DEPTH, tag="-mutant-update",
                 map_memories=True)
    check(result, "FAIL")
    assert "failed assertion" in result.log
