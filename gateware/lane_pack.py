"""Lane packer: dense packet-bus beats of a narrow bus, `ratio` of them to a wide beat.

The narrow beats must be dense (full but for a frame's last one), as a `Repack` of their width
makes them, so each goes whole into the next lane of the wide beat: the lanes are flip-flops
that load in turn, with no byte shifting. A wide beat leaves when its lanes are full or the
frame's last narrow beat is in; the next narrow beat enters in the cycle it leaves, so the
input runs at full rate. The last beat's lanes past its `nbytes` keep older bytes (its reader,
the GCM engine, ignores them).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .packet import packet_signature


class LanePack(wiring.Component):
    def __init__(self, in_width: int, width: int):
        if width % in_width:
            raise ValueError(f"a {width}-byte beat is not whole {in_width}-byte lanes")
        self.in_width, self.width = in_width, width
        super().__init__({"i": In(packet_signature(in_width)), "o": Out(packet_signature(width))})

    def elaborate(self, platform):
        m = Module()
        v, ratio = self.in_width, self.width // self.in_width
        lanes = [Signal(8 * v, name=f"lane{k}") for k in range(ratio)]
        count = Signal(range(ratio + 1))  # lanes loaded
        closed = Signal()  # the frame's last narrow beat is in
        nbytes = Signal.like(self.o.payload.nbytes)
        first = Signal(init=1)

        o, i = self.o.payload, self.i.payload
        m.d.comb += [
            self.o.valid.eq((count == ratio) | closed),
            o.data.eq(Cat(*lanes)), o.nbytes.eq(nbytes), o.last.eq(closed), o.first.eq(first),
            self.i.ready.eq(~self.o.valid | self.o.ready),
        ]
        at = Signal(range(ratio))  # the lane the next narrow beat goes to: a full beat leaves first
        m.d.comb += at.eq(Mux(self.o.valid, 0, count))
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += [count.eq(0), closed.eq(0), first.eq(o.last)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [count.eq(at + 1), closed.eq(i.last), nbytes.eq(at * v + i.nbytes)]
            for k, lane in enumerate(lanes):
                with m.If(at == k):
                    m.d.sync += lane.eq(i.data)
        return m
