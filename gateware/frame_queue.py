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

from .packet import beat_layout, packet_signature


def read_committed(m: Module, mem: Memory, o, committed: Signal) -> Signal:
    """The reader of a lossy queue: the beats of `mem` up to `committed` out on `o`, through the
    read port's output register; its read pointer (as wide as `committed`)."""
    rd, rd_ptr = mem.read_port(domain="comb"), Signal.like(committed)
    advance = ~o.valid | o.ready
    fetch = advance & (rd_ptr != committed)
    m.d.comb += rd.addr.eq(rd_ptr)
    with m.If(advance):
        m.d.sync += [o.valid.eq(fetch), o.payload.eq(rd.data)]
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
        # an asynchronous read port and the output register behind it, which Yosys merges into a
        # synchronous port: `no_rw_check` (honoured there only) spares the emulation of a read of the
        # word being written, never used (the reader stops at `committed`, the writer writes beyond)
        m.submodules.mem = mem = Memory(shape=beat_layout(self.width), depth=self.depth, init=[],
                                        attrs={"no_rw_check": 1})
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
