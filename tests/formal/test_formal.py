"""The formal proofs (espline.sim.formal, docs/verification.md) at their default depth, the deeper
bounded runs under `slow`, and mutation checks: a broken unit must make its proof fail."""

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from espline.gateware.esp.frame_join import FrameJoin
from espline.gateware.esp.packet_buffer import PacketBuffer
from espline.sim.formal import PROOFS
from espline.sim.formal.frames import FramesInStep, Job
from espline.sim.formal.join import JoinAlone
from espline.sim.formal.runner import run
from espline.sim.formal.verified import VerifiedBuffer


def check(result, expected="PASS"):
    assert result.status == expected, f"{result}\n{result.log[-3000:]}"


@pytest.mark.parametrize("proof", PROOFS, ids=[p.name for p in PROOFS])
def test_proof(proof):
    check(run(proof.name, proof.harness(), proof.mode, proof.depth))


SLOW = [p for p in PROOFS if p.slow_depth is not None]


@pytest.mark.slow
@pytest.mark.parametrize("proof", SLOW, ids=[p.name for p in SLOW])
def test_proof_deeper(proof):
    check(run(proof.name, proof.harness(), proof.mode, proof.slow_depth))


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
