"""One frame, written a byte at a time (at UART speed), sent on whole as packet beats.

The UART bridge's frames from the host (docs/boards.md): the bytes are gathered in a buffer of
`size` bytes, and only a committed frame goes out on `o`, at one beat per cycle, so a slow
serial line never holds the packet bus it joins in the middle of a frame. `clear` forgets the
bytes written so far (a command the host abandoned); `busy` is 1 from `commit` until the
frame's last beat has been taken. Bytes are taken only while not busy.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature


class FrameFromBytes(wiring.Component):
    def __init__(self, width: int, size: int):
        if width & (width - 1) or size % width or size < width:
            raise ValueError(f"width {width} must be a power of two and size {size} a multiple of it")
        self.width, self.size = width, size
        super().__init__({"byte": In(stream.Signature(8)), "clear": In(1), "commit": In(1), "busy": Out(1),
                          "o": Out(packet_signature(self.width))})

    def elaborate(self, platform):
        m = Module()
        lanes, depth = (self.width - 1).bit_length(), self.size // self.width
        m.submodules.mem = mem = Memory(shape=8 * self.width, depth=depth, init=[])
        wr, rd = mem.write_port(granularity=8), mem.read_port()
        fill = Signal(range(self.size + 1))  # bytes written
        words = Signal(range(depth + 1))  # the committed frame: its beats, and the bytes of its last one
        tail = Signal(range(self.width + 1))
        rd_ptr = Signal(range(depth + 1))

        take = self.byte.valid & self.byte.ready
        m.d.comb += [self.byte.ready.eq(~self.busy & (fill != self.size)),
                     wr.addr.eq(fill[lanes:]), wr.data.eq(self.byte.payload.replicate(self.width)),
                     wr.en.eq(Mux(take, Const(1, self.width) << fill[:lanes], 0))]
        with m.If(take):
            m.d.sync += fill.eq(fill + 1)
        with m.If(self.clear & ~self.busy):
            m.d.sync += fill.eq(0)
        with m.If(self.commit & ~self.busy & (fill != 0)):
            partial = fill[:lanes]
            m.d.sync += [self.busy.eq(1), words.eq(fill[lanes:] + (partial != 0)),
                         tail.eq(Mux(partial == 0, self.width, partial))]

        # out through the read port's output register, as espline.gateware.frame_queue does
        beat = self.o.payload
        advance = ~self.o.valid | self.o.ready
        fetch = advance & self.busy & (rd_ptr != words)
        last = rd_ptr == words - 1
        m.d.comb += [rd.addr.eq(rd_ptr), rd.en.eq(advance), beat.data.eq(rd.data)]
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(fetch), beat.first.eq(rd_ptr == 0), beat.last.eq(last),
                         beat.nbytes.eq(Mux(last, tail, self.width))]
        with m.If(fetch):
            m.d.sync += rd_ptr.eq(rd_ptr + 1)
        with m.If(self.o.valid & self.o.ready & beat.last):
            m.d.sync += [self.busy.eq(0), fill.eq(0), rd_ptr.eq(0)]
        return m
