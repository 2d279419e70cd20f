"""A lossy frame queue written at offsets (the ICMP too-big answers, `esp/icmp_too_big.py`): a
frame of at most `slot` beats is written a beat at a time, in any order, at offsets from the end
of the frames committed, then closed: committed whole (`commit`, with its length in beats) or
dropped (never in the cycle of a write). A write that would overwrite a beat not yet read is not
made, and a frame committed without one of its beats is dropped instead (`dropped` pulses). The
reader sees whole frames, in order, at its own pace, as `frame_queue.py`'s: a slow reader loses
frames, it never stalls the writer (docs/invariants.md §8).
"""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import registered_read
from .frame_queue import read_committed
from .packet import beat_layout, packet_signature


class SlotQueue(wiring.Component):
    """`depth` beats of `width` bytes (a power of two, at least `slot`)."""

    def __init__(self, width: int, depth: int, slot: int):
        if depth & (depth - 1) or depth < max(slot, 2):
            raise ValueError(f"depth: {depth} is not a power of two >= the slot ({slot}) and 2")
        self.width, self.depth, self.slot = width, depth, slot
        super().__init__({
            "write": In(1), "offset": In(range(slot)), "beat": In(beat_layout(width)),
            "close": In(1), "commit": In(1), "length": In(range(slot + 1)),  # never with a write
            "o": Out(packet_signature(width)), "dropped": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        pointer = unsigned(self.depth.bit_length())  # one bit more than the address: full vs empty
        # as frame_queue.py's memory: the reader never reads a word being written
        m.submodules.mem = mem = registered_read.memory(beat_layout(self.width), self.depth)
        wr = mem.write_port()
        committed = Signal(pointer)  # the end of the last frame committed: the reader stops there
        rd_ptr = read_committed(m, mem, self.o, committed)

        # a write lands `offset` beats past `committed`, if fewer than `depth` beats ahead of the
        # reader (committed - rd_ptr <= depth and offset < slot <= depth: the difference's top bit)
        address = Signal(pointer)
        m.d.comb += address.eq(committed + self.offset)
        fits = ~(address - rd_ptr)[pointer.width - 1]
        m.d.comb += [wr.addr.eq(address), wr.data.eq(self.beat), wr.en.eq(self.write & fits)]

        # the frame's lowest offset not written: committed only if past its length
        refused = Signal(range(self.slot + 1), init=self.slot)
        with m.If(self.close):
            m.d.sync += refused.eq(self.slot)
        with m.Elif(self.write & ~fits & (self.offset < refused)):
            m.d.sync += refused.eq(self.offset)
        with m.If(self.close & self.commit):
            with m.If(refused < self.length):
                m.d.comb += self.dropped.eq(1)
            with m.Else():
                m.d.sync += committed.eq(committed + self.length)
        return m
