"""Formal proofs of docs/invariants.md with SymbiYosys (docs/verification.md).

One harness per property set (`frames`, `join`, ...), each an Amaranth elaboratable holding the
units under test, a free environment (`AnySeq`/`AnyConst`), the assumptions that model what the
rest of the design guarantees, and the properties (`Assert`, `Cover`). `PROOFS` lists every run
at its default depth (`make formal`, the default test suite) and a deeper one (`make test-slow`);
`runner.run` writes the .sby file and calls yowasp-sby under `build/formal/`.
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Proof:
    name: str  # the property set
    properties: str  # what it proves, one line
    harness: Callable  # () -> the harness elaboratable
    mode: str  # bmc, prove (k-induction) or cover
    depth: int  # the default depth (make formal, make test)
    slow_depth: int | None = None  # a deeper run for make test-slow


def _frames():
    from .frames import FramesInStep
    return FramesInStep()


def _join():
    from .join import JoinAlone
    return JoinAlone()


PROOFS = [
    Proof("frames", "parser+store+join: k-th job carries tag k, its frame follows whole, no desync (§6)",
          _frames, "bmc", 12, 16),
    Proof("frames-cover", "parser+store+join: a frame, an empty and an oversize placeholder get through",
          _frames, "cover", 12),
    Proof("join", "FrameJoin, any input: no frame_o beat without its own job released before it (§6)",
          _join, "prove", 4),
]
