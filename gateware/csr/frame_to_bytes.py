"""One frame taken whole from a packet bus, then read out a byte at a time (at UART speed).

The UART bridge's frames to the host (docs/boards.md): a frame comes in on `i` into a buffer
of `size` bytes; once its last beat is in, `full` is 1 and `length` says how many bytes it has,
so the bridge can announce the length before the bytes. `byte` gives them in order; after the
last one the buffer takes the next frame. While full, `i` is not ready: the frames wait in the
appliance's host queue, which drops and counts what it cannot hold, so a host that polls slowly
never stalls the datapath. A frame longer than `size` (or empty) is taken and dropped:
`dropped` pulses.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature


class FrameToBytes(wiring.Component):
    def __init__(self, width: int, size: int):
        if width & (width - 1) or size % width or not width <= size < 1 << 16:
            raise ValueError(f"width {width} must be a power of two and size {size} (< 65536) a multiple of it")
        self.width, self.size = width, size
        super().__init__({"i": In(packet_signature(width)), "byte": Out(stream.Signature(8)),
                          "full": Out(1), "length": Out(16), "dropped": Out(1)})

    def elaborate(self, platform):
        m = Module()
        lanes, depth = (self.width - 1).bit_length(), self.size // self.width
        m.submodules.mem = mem = Memory(shape=8 * self.width, depth=depth, init=[])
        wr = mem.write_port()
        rd = mem.read_port()

        # -- in: whole frames, one beat a cycle --------------------------------------------------
        words = Signal(range(depth + 1))  # beats written
        count = Signal(range(self.size + self.width + 1))  # bytes so far
        overflow = Signal()  # the frame has more beats than the buffer has words
        left = Signal(16)  # bytes of the held frame not yet read out: its last is `left == 1`
        beat = self.i.payload
        took = self.i.valid & self.i.ready
        m.d.comb += [self.i.ready.eq(~self.full), wr.addr.eq(words), wr.data.eq(beat.data),
                     wr.en.eq(took & (words != depth))]
        with m.If(took):
            m.d.sync += [count.eq(count + beat.nbytes), words.eq(words + (words != depth)),
                         overflow.eq(overflow | (words == depth))]
            with m.If(beat.last):
                m.d.sync += [count.eq(0), words.eq(0), overflow.eq(0)]
                total = count + beat.nbytes
                empty = (count == 0) & (beat.nbytes == 0)  # total == 0, without the adder in its path
                with m.If(overflow | (words == depth) | empty):
                    m.d.comb += self.dropped.eq(1)
                with m.Else():
                    m.d.sync += [self.full.eq(1), self.length.eq(total), left.eq(total)]

        # -- out: byte `pos` of the frame. The EBR's output goes straight into a register (its
        # clock-to-output is 5.6 ns of the 8 on a -6 part: docs/boards.md), the byte is chosen after.
        pos = Signal(16)
        taken = self.byte.valid & self.byte.ready
        word = Signal.like(rd.data)
        settled = Signal()  # the read port holds the word of `pos` (its address has not moved since)
        registered = Signal()  # and so does `word`
        m.d.comb += rd.addr.eq(pos[lanes:])
        m.d.sync += [word.eq(rd.data), settled.eq(self.full & ~taken), registered.eq(settled & ~taken)]
        with m.If(registered & ~self.byte.valid):
            m.d.sync += [self.byte.valid.eq(1),
                         self.byte.payload.eq(word.word_select(pos[:lanes], 8) if lanes else word)]
        with m.If(taken):
            m.d.sync += [self.byte.valid.eq(0), pos.eq(pos + 1), left.eq(left - 1)]
            with m.If(left == 1):
                m.d.sync += [self.full.eq(0), pos.eq(0)]
        return m
