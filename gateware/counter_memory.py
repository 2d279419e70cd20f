"""Event counters in a block RAM, one adder serving them in turn (the board's MAC counters:
docs/boards.md "Board registers").

Each counter sums its pulses into a small pending count, which its turn (every `n` cycles) adds
to its total: the total is read (`registered_read`), kept in a register for a cycle (the block
RAM's output is slow), then written back with the pending count added, while the counters two
turns on are read. A read waits for its counter's turn (up to `n` cycles) and takes the value
written then, so it is live: every pulse up to two cycles before counts. Unlike the appliance's
`esp.counts.GlobalCounters`, which answers in the cycle it is asked (so keeps its totals in
distributed RAM, read through two ports), the totals here take no logic but the adder.
"""

from amaranth.hdl import Array, Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import registered_read


def read_signature(n: int, width: int) -> wiring.Signature:
    """A counter read, from the reader's side: a counter's index out; its value in, `valid` in the
    cycle it is its turn."""
    return wiring.Signature({"index": Out(range(n)), "valid": In(1), "value": In(width)})


class CounterMemory(wiring.Component):
    """`n` counters (at least 3) of `width` bits, wrapping, zero at configuration; one pulse
    input each (`pulses`), read through `read`."""

    def __init__(self, n: int, width: int = 32):
        if n < 3:
            raise ValueError(f"n: {n} counters, fewer than 3 (a total is written back while the one two on is read)")
        self.n, self.width = n, width
        super().__init__({"pulses": In(n), "read": In(read_signature(n, width))})

    def elaborate(self, platform):
        m = Module()
        n = self.n
        # the total written back (`at`) is two counters behind the one read (`turn`): never the same word
        m.submodules.totals = totals = registered_read.memory(self.width, n, block=True)
        fetch, fetched = registered_read.read_port(m, totals)
        update = totals.write_port()
        turn = Signal(range(n))  # the counter whose total is read
        m.d.sync += turn.eq(turn + 1)
        with m.If(turn == n - 1):
            m.d.sync += turn.eq(0)
        fetching, at = Signal(range(n)), Signal(range(n))  # the counters in `fetched`, in `total`
        total, taken = Signal(self.width), Signal(range(n + 1))  # and the pending count taken with it
        primed = Signal(2)  # `fetched`, `total` hold a counter's total (not so after a reset)
        m.d.sync += [fetching.eq(turn), at.eq(fetching), total.eq(fetched), primed.eq(Cat(1, primed[0]))]
        # between two turns a counter takes at most `n` pulses; its pending count is taken the cycle
        # before the write (the selection in one cycle, the addition in the next)
        pending = Array(Signal(range(n + 1), name=f"pending_{k}") for k in range(n))
        taking, written = primed[0], primed[1]
        m.d.sync += taken.eq(pending[fetching])
        for k in range(n):
            with m.If(taking & (fetching == k)):
                m.d.sync += pending[k].eq(self.pulses[k])
            with m.Else():
                m.d.sync += pending[k].eq(pending[k] + self.pulses[k])
        m.d.comb += [fetch.addr.eq(turn), update.addr.eq(at), update.en.eq(written),
                     update.data.eq(total + taken)]
        m.d.comb += [self.read.value.eq(update.data), self.read.valid.eq(written & (at == self.read.index))]
        return m
