"""Global counters (docs/invariants.md §3: rx = tx + punted + drops): one-cycle count pulses from
every stage, summed into the 64-bit live values the register map's `global_cnt` reads.

The pulses are registered as they come in (they are the ends of the stages' handshakes and
decisions, which should reach nothing but a flip-flop). The 64-bit totals live in a memory, one
adder serving them in turn: each counter sums its registered pulses into a small pending count,
which its turn (every `len(NAMES)` cycles) adds to its total. A read (`read`: a counter's index in
`NAMES` order in, its value out in the same cycle) is the total plus the pending count, so it is
live: every pulse up to two cycles before counts.
"""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import COUNTERS

#: The counters: the register map's `global_cnt`, in its order (docs/model.md).
NAMES = COUNTERS

#: The counters of frames that end inside the appliance, no frame out, when they count: the drops
#: but too-big (a too-big frame ends when the ICMP block has seen it pass, as its answer may follow:
#: `icmp_too_big.py`), the punted frames the host queue lost (`punt_dropped` is within `punted`, not
#: a drop: rx = tx + punted + drops) and the ICMP answers the ICMP queue lost (`icmp_lost`).
ENDED_INSIDE = tuple(name for name in NAMES if name.startswith("drop_") and name != "drop_too_big") + (
    "punt_dropped", "icmp_lost")

#: One pulse per counted frame: the members a stage sets in the cycle it decides a frame.
Counts = data.StructLayout({name: 1 for name in NAMES})


def read_signature() -> wiring.Signature:
    """A counter read, from the reader's side: a counter's index in `NAMES` out, its value in."""
    return wiring.Signature({"index": Out(range(len(NAMES))), "value": In(64)})


class GlobalCounters(wiring.Component):
    """Sum `sources` pulse vectors per cycle into 64-bit counters, read through `read`."""

    def __init__(self, sources: int):
        self.sources = sources
        super().__init__({"counts": In(Counts).array(sources), "read": In(read_signature())})

    def elaborate(self, platform):
        m = Module()
        n = len(NAMES)
        m.submodules.totals = totals = Memory(shape=64, depth=n, init=[])
        update, current, asked = totals.write_port(), totals.read_port(domain="comb"), totals.read_port(domain="comb")
        # between two turns a counter takes at most `sources` pulses a cycle for `n` cycles
        pending = Array(Signal(range(self.sources * n + 1), name=f"pending_{name}") for name in NAMES)
        turn = Signal(range(n))
        m.d.sync += turn.eq(turn + 1)
        with m.If(turn == n - 1):
            m.d.sync += turn.eq(0)
        m.d.comb += [current.addr.eq(turn), update.addr.eq(turn), update.en.eq(1),
                     update.data.eq(current.data + pending[turn])]
        registered = [Signal(Counts, name=f"counts_{n}") for n in range(self.sources)]
        m.d.sync += [r.eq(c) for r, c in zip(registered, self.counts, strict=True)]
        for k, name in enumerate(NAMES):
            pulses = sum(getattr(c, name) for c in registered)
            m.d.sync += pending[k].eq(pending[k] + pulses)
            with m.If(turn == k):
                m.d.sync += pending[k].eq(pulses)
        m.d.comb += [asked.addr.eq(self.read.index), self.read.value.eq(asked.data + pending[self.read.index])]
        return m
