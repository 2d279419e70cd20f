"""Per-SA counter snapshot: a write of SA_CNT_SEL asks the datapath for one SA's counters.

The counters live with the SA table in the datapath. Writing the index (its `swmod` pulse,
which comes when the register holds the new index) sends one request on `request`; the
answer on `response` is written, whole, into the SA_CNT registers (their `we`), so the host
reads one consistent snapshot however long it takes.
`busy` (SA_CNT_SEL.busy) covers the time between the write and the answer.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out


class CounterSnapshot(wiring.Component):
    def __init__(self, counters: data.StructLayout, depth: int):
        super().__init__({
            "select": In(1), "index": In(range(depth)),
            "request": Out(stream.Signature(range(depth))),
            "response": In(stream.Signature(counters)),
            "store": Out(1), "snapshot": Out(counters), "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        waiting = Signal()
        m.d.comb += [
            self.request.payload.eq(self.index),
            self.response.ready.eq(waiting & ~self.request.valid),
            self.store.eq(self.response.valid & self.response.ready),
            self.snapshot.eq(self.response.payload),
            self.busy.eq(waiting),
        ]
        with m.If(self.select):
            m.d.sync += [self.request.valid.eq(1), waiting.eq(1)]
        with m.Elif(self.request.valid & self.request.ready):
            m.d.sync += self.request.valid.eq(0)
        with m.If(self.store):
            m.d.sync += waiting.eq(0)
        return m
