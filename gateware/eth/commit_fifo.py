"""A FIFO written transactionally: words become readable only when their frame is committed.

The writer appends words (`w`); `commit` makes every word written since the last commit or
discard readable, `discard` throws them away (in the cycle they are asserted, a word written in
the same cycle counts as written before). `w.ready` is low while the FIFO is full, counting
written but uncommitted words. The reader sees committed words only, in order, one a cycle.
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
        self.shape, self.depth = shape, depth
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
        m.d.comb += [
            self.w.ready.eq((wr_ptr - rd_ptr)[: pointer.width] != self.depth),
            wr.addr.eq(wr_ptr),
            wr.data.eq(self.w.payload),
            wr.en.eq(write),
        ]
        written = Signal(pointer)
        m.d.comb += written.eq(wr_ptr + write)
        m.d.sync += wr_ptr.eq(Mux(self.discard, committed, written))
        with m.If(self.commit):
            m.d.sync += committed.eq(written)

        # the read port's output register is the stream's payload register
        advance = ~self.r.valid | self.r.ready
        fetch = advance & (rd_ptr != committed)
        m.d.comb += [rd.addr.eq(rd_ptr), rd.en.eq(advance), self.r.payload.eq(rd.data)]
        with m.If(advance):
            m.d.sync += self.r.valid.eq(fetch)
        with m.If(fetch):
            m.d.sync += rd_ptr.eq(rd_ptr + 1)
        return m
