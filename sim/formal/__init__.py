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
    map_memories: bool = False  # see runner.run
    free_init: tuple = ()  # see runner.run

    def run(self, depth: int | None = None, **options):
        from .runner import run
        return run(self.name, self.harness(), self.mode, depth or self.depth, map_memories=self.map_memories,
                   free_init=self.free_init, **options)


def _frames():
    from .frames import FramesInStep
    return FramesInStep()


def _join():
    from .join import JoinAlone
    return JoinAlone()


def _verified():
    from .verified import VerifiedBuffer
    return VerifiedBuffer()


def _splitter():
    from .splitter import SplitterFrames
    return SplitterFrames()


def _sequence():
    from .sequence import SequenceNumbers
    return SequenceNumbers()


def _sequence_wrap():
    from .sequence import SequenceNumbers
    return SequenceNumbers(free_tables=True)


def _free_tables():
    from .sequence import FREE_TABLES
    return FREE_TABLES


PROOFS = [
    Proof("frames", "parser+store+join: k-th job carries tag k, its frame follows whole, no desync (§6)",
          _frames, "bmc", 12, 16),
    Proof("frames-cover", "parser+store+join: a frame, an empty and an oversize placeholder get through",
          _frames, "cover", 12),
    Proof("join", "FrameJoin, any input: no frame_o beat without its own job released before it (§6)",
          _join, "prove", 4),
    Proof("verified", "PacketBuffer (decap): no beat of a frame not committed ok; kept frames whole (§1)",
          _verified, "bmc", 12, 16),
    Proof("verified-cover", "PacketBuffer (decap): a committed frame out after a discarded one",
          _verified, "cover", 12),
    Proof("splitter", "Splitter: one frame per job, DROP puts no byte out, no output without a job",
          _splitter, "prove", 4),
    Proof("splitter-cover", "Splitter: a dropped two-beat frame consumed, a trailer out",
          _splitter, "cover", 10),
    Proof("sequence", "OutboundControl+SaTable: per SA and key, across updates, seq strictly increases, never 0 (§7)",
          _sequence, "bmc", 22, 24, map_memories=True),
    Proof("sequence-cover", "OutboundControl: two protected jobs under one key; after a new SA; after an update",
          _sequence, "cover", 24, map_memories=True),
    Proof("sequence-wrap", "OutboundControl, any consistent SA table: the last number kills the SA, no wrap (§7)",
          _sequence_wrap, "bmc", 15, 19, map_memories=True, free_init=_free_tables()),
    Proof("sequence-wrap-cover", "OutboundControl: the last number (32-bit and ESN) sent; a job after a rewrite",
          _sequence_wrap, "cover", 22, map_memories=True, free_init=_free_tables()),
]
