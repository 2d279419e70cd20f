"""Lane splitter: fragments of a wide bus (`espline.gateware.packet.fragment_layout`) cut along
the lanes of a narrow one, a lane a cycle.

A wide fragment waits in a register and leaves as the narrow fragments of the lanes its bytes
touch, each with its bytes' place in the lane (`lo`, `n`); the frame's `last` goes with the
last of them. So a `Repack` of the narrow width, behind it, only aligns bytes within a narrow
beat, where one of the wide width would shift the whole wide fragment. The next wide fragment
enters in the cycle the last lane of this one leaves: a lane a cycle, the narrow bus's rate.
"""

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from .packet import fragment_layout


class LaneSplit(wiring.Component):
    def __init__(self, in_width: int, width: int):
        if in_width % width or width & (width - 1):
            raise ValueError(f"a {in_width}-byte fragment is not whole {width}-byte lanes of a power of two")
        self.in_width, self.width = in_width, width
        super().__init__({"i": In(stream.Signature(fragment_layout(in_width))),
                          "o": Out(stream.Signature(fragment_layout(width)))})

    def elaborate(self, platform):
        m = Module()
        v, w = self.in_width, self.width
        shift = exact_log2(w)
        data, last = Signal(8 * v), Signal()  # the fragment's lanes and its `last`
        full = Signal()
        lane = Signal(range(v // w))  # the lane to send next
        last_lane = Signal(range(v // w))  # the lane of the fragment's last byte (its first if none)
        lo = Signal(range(w))  # where the bytes start in `lane`: the fragment's lo in its first lane, else 0
        end = Signal(range(v + 1))  # the fragment's lo + n

        o = self.o.payload
        final = lane == last_lane
        m.d.comb += [
            self.o.valid.eq(full),
            o.data.eq(Array(data[8 * w * k : 8 * w * (k + 1)] for k in range(v // w))[lane]),
            o.lo.eq(lo),
            o.n.eq(Mux(final, end - (lane << shift), w) - lo),
            o.last.eq(last & final),
            self.i.ready.eq(~full | (self.o.ready & final)),
        ]
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [lane.eq(lane + 1), lo.eq(0)]
            with m.If(final):
                m.d.sync += full.eq(0)
        f = self.i.payload
        with m.If(self.i.valid & self.i.ready):
            stop = f.lo + f.n
            m.d.sync += [data.eq(f.data), last.eq(f.last), full.eq(1), lane.eq(f.lo >> shift), lo.eq(f.lo),
                         end.eq(stop), last_lane.eq(Mux(f.n == 0, f.lo, stop - 1) >> shift)]
        return m
