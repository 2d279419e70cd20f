"""A lossy frame queue: it takes a beat every cycle (its input is never back-pressured) and
keeps whole frames only. A frame that does not fit in the free words is dropped whole
(`dropped` pulses with its last beat) and nothing of it comes out; the reader sees complete
frames, in order, at its own pace. The host port's queue (docs/datapath.md): a slow consumer
loses frames, it never stalls the datapath.
"""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import registered_read
from .packet import beat_layout, packet_signature


def read_committed(m: Module, mem: Memory, o, committed: Signal) -> Signal:
    """The reader of a lossy queue: the beats of `mem` (a `registered_read.memory`) up to
    `committed` out on `o`, through the read port's output register; its read pointer (as wide as
    `committed`). No beat read in the cycle it is written is used: the reader stops at
    `committed`, the writer writes beyond."""
    advance = ~o.valid | o.ready  # the output register takes the next beat, if any
    (rd, beat), rd_ptr = registered_read.read_port(m, mem, en=advance), Signal.like(committed)
    fetch = advance & (rd_ptr != committed)
    m.d.comb += [rd.addr.eq(rd_ptr), o.payload.eq(beat)]
    with m.If(advance):
        m.d.sync += o.valid.eq(fetch)
    with m.If(fetch):
        m.d.sync += rd_ptr.eq(rd_ptr + 1)
    return rd_ptr


class FrameQueue(wiring.Component):
    """`depth` beats of `width` bytes (a power of two)."""

    def __init__(self, width: int = 16, depth: int = 256):
        if depth & (depth - 1) or depth < 2:
            raise ValueError(f"depth: {depth} is not a power of two >= 2")
        self.width, self.depth = width, depth
        super().__init__({"i": In(packet_signature(width)), "o": Out(packet_signature(width)), "dropped": Out(1)})

    def elaborate(self, platform):
        m = Module()
        pointer = unsigned(self.depth.bit_length())  # one bit more than the address: full vs empty
        m.submodules.mem = mem = registered_read.memory(beat_layout(self.width), self.depth)
        wr = mem.write_port()
        wr_ptr = Signal(pointer)
        committed = Signal(pointer)  # the end of the last whole frame written: the reader stops there
        rd_ptr = read_committed(m, mem, self.o, committed)

        # -- writer: append beats; at a frame's last beat commit it, or rewind to drop it ----------
        dropping = Signal()  # the frame coming in did not fit
        full = (wr_ptr - rd_ptr)[: pointer.width] == self.depth
        fits = ~dropping & ~full
        beat = self.i.payload
        m.d.comb += [self.i.ready.eq(1), wr.addr.eq(wr_ptr), wr.data.eq(beat), wr.en.eq(self.i.valid & fits)]
        with m.If(self.i.valid):
            with m.If(beat.last):
                m.d.sync += dropping.eq(0)
                with m.If(fits):
                    m.d.sync += [wr_ptr.eq(wr_ptr + 1), committed.eq(wr_ptr + 1)]
                with m.Else():
                    m.d.sync += wr_ptr.eq(committed)
                    m.d.comb += self.dropped.eq(1)
            with m.Elif(fits):
                m.d.sync += wr_ptr.eq(wr_ptr + 1)
            with m.Else():
                m.d.sync += [dropping.eq(1), wr_ptr.eq(committed)]

        return m
