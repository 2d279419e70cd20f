"""A FIFO written transactionally: words become readable only when their frame is committed.

The writer appends words (`w`); `commit` makes every word written since the last commit or
discard readable, `discard` throws them away (in the cycle they are asserted, a word written in
the same cycle counts as written before). `w.ready` is a register (no pointer comparison after
it): high when two or more words were free the cycle before, counting written but uncommitted
words, so at least one is free whatever was written then. Written back to back the FIFO fills to
`depth`; a frame of up to `capacity` = `depth` - 1 words always finds room once the words before
it are read. The reader sees committed words only, in order, one a cycle,
two cycles after their commit (the memory's read register, then the stream's).
The idea is LUNA's `TransactionalizedFIFO`; here one clock domain, `sync` (rename it).
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out


def frame_word_layout(width: int) -> data.StructLayout:
    """What the MAC's FIFOs hold: a packet-bus beat without `first` (frames end at `last`)."""
    return data.StructLayout({"data": 8 * width, "nbytes": range(width + 1), "last": 1})


class CommitFifo(wiring.Component):
    def __init__(self, shape, depth: int):
        if depth & (depth - 1) or depth < 2:
            raise ValueError(f"depth: {depth} is not a power of two >= 2")
        self.shape, self.depth, self.capacity = shape, depth, depth - 1
        super().__init__({
            "w": In(stream.Signature(shape)),
            "commit": In(1),
            "discard": In(1),
            "r": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        pointer = unsigned(self.depth.bit_length())  # one bit more than the address: full vs empty
        m.submodules.mem = mem = Memory(shape=self.shape, depth=self.depth, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        wr_ptr, committed, rd_ptr = Signal(pointer), Signal(pointer), Signal(pointer)

        write = self.w.valid & self.w.ready
        level, room = Signal(pointer), Signal(init=1)  # words written and not yet read; two free
        m.d.sync += room.eq(level <= self.depth - 2)
        m.d.comb += [
            level.eq(wr_ptr - rd_ptr),
            self.w.ready.eq(room),
            wr.addr.eq(wr_ptr),
            wr.data.eq(self.w.payload),
            wr.en.eq(write),
        ]
        after, written = Signal(pointer), Signal(pointer)  # no adder after `write`: it comes late
        m.d.comb += [after.eq(wr_ptr + 1), written.eq(Mux(write, after, wr_ptr))]
        m.d.sync += wr_ptr.eq(Mux(self.discard, committed, written))
        with m.If(self.commit):
            m.d.sync += committed.eq(written)

        # two stages: the read port's own register, then the payload register (the block RAM's
        # output is slow: nothing but a register reads it)
        held = Signal()  # the read port's register holds a word
        advance = ~self.r.valid | self.r.ready
        fill = ~held | advance
        fetch = fill & (rd_ptr != committed)
        m.d.comb += [rd.addr.eq(rd_ptr), rd.en.eq(fill)]
        with m.If(fill):
            m.d.sync += held.eq(fetch)
        with m.If(fetch):
            m.d.sync += rd_ptr.eq(rd_ptr + 1)
        with m.If(advance):
            m.d.sync += [self.r.valid.eq(held), self.r.payload.eq(rd.data)]
        return m
