"""Transmit intake: frames from the packet bus into the transmit `CommitFifo`, committed whole
once their last beat is in, so the framer never starts a frame it cannot finish (no underrun).

A frame longer than `limit` bytes (the largest frame without its FCS), or one that alone would
fill the FIFO's `depth` words, is swallowed and discarded (`oversize` pulses); a frame without
a byte is discarded (`empty` pulses). Beats without a byte are not stored (the framer ends a
frame at a stored word marked `last`, or at an empty word marked `last`); `nbytes` above the
bus width counts as the width.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature
from .commit_fifo import frame_word_layout


class TxIntake(wiring.Component):
    def __init__(self, width: int, *, limit: int, depth: int):
        self.width, self.limit, self.depth = width, limit, depth
        super().__init__({
            "i": In(packet_signature(width)),
            "w": Out(stream.Signature(frame_word_layout(width))),
            "commit": Out(1), "discard": Out(1),
            "oversize": Out(1), "empty": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        width, limit = self.width, self.limit
        length = Signal(range(limit + 2))  # bytes taken of this frame, saturating at limit + 1
        words = Signal(range(self.depth + 1))
        beat = self.i.payload
        nbytes = Signal(range(width + 1))
        total = Signal(range(limit + width + 2))
        m.d.comb += [nbytes.eq(Mux(beat.nbytes > width, width, beat.nbytes)), total.eq(length + nbytes)]
        too_long = (total > limit) | (words == self.depth)
        store = (nbytes != 0) | beat.last
        m.d.comb += [
            self.w.valid.eq(self.i.valid & store & ~too_long),
            self.w.payload.data.eq(beat.data),
            self.w.payload.nbytes.eq(nbytes),
            self.w.payload.last.eq(beat.last),
            self.i.ready.eq(self.w.ready | ~store | too_long),
        ]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [length.eq(Mux(too_long, limit + 1, total)), words.eq(words + self.w.valid)]
            with m.If(beat.last):
                m.d.sync += [length.eq(0), words.eq(0)]
                m.d.comb += [self.oversize.eq(too_long), self.empty.eq(~too_long & (total == 0)),
                             self.commit.eq(~too_long & (total != 0)), self.discard.eq(too_long | (total == 0))]
        return m
