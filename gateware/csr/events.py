"""The event FIFO: lifetime, sequence-exhaustion and threshold events from the datapath to the host.

Events arrive on a stream that is always ready (the datapath never stalls for the host): an
event that finds the FIFO full is lost and raises `overflow` for one cycle (the register file
keeps it sticky in INT_STATUS). The host reads the head (kind `none` when empty); `pop`, the
read strobe of that register, removes it.
"""

from amaranth.hdl import Module
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out


class EventQueue(wiring.Component):
    def __init__(self, layout: data.StructLayout, depth: int):
        self.depth = depth
        super().__init__({
            "events": In(stream.Signature(layout)),
            "head": Out(layout), "pending": Out(1), "pop": In(1), "overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=len(self.events.payload.as_value()), depth=self.depth)
        m.d.comb += [
            self.events.ready.eq(1),
            q.w_data.eq(self.events.payload),
            q.w_en.eq(self.events.valid),
            self.overflow.eq(self.events.valid & ~q.w_rdy),
            self.pending.eq(q.r_rdy),
            q.r_en.eq(self.pop),
        ]
        with m.If(q.r_rdy):
            m.d.comb += self.head.eq(q.r_data)
        return m
