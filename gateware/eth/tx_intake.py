"""Transmit intake: frames from the packet bus into the transmit `CommitFifo`, committed whole
once their last beat is in, so the framer never starts a frame it cannot finish (no underrun).

A frame longer than `limit` bytes (the largest frame without its FCS), or one of more words than
`depth` (the FIFO's `CommitFifo.capacity`), is swallowed and discarded (`oversize` pulses); a frame without
a byte is discarded (`empty` pulses). Beats without a byte are not stored (the framer ends a
frame at a stored word marked `last`, or at an empty word marked `last`); `nbytes` above the
bus width counts as the width. `i.ready` depends on registers only (the FIFO's space, a frame
being swallowed), not on the beat offered.
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
        width, limit, depth = self.width, self.limit, self.depth
        # registers only in front of `ready`; the payload reaches nothing but short compares
        headroom = Signal(range(limit + 1), init=limit)  # bytes this frame may still add
        words = Signal(range(depth + 1))
        dropping = Signal()  # this frame is too long: the rest is swallowed
        beat = self.i.payload
        nbytes = Signal(range(width + 1))
        m.d.comb += nbytes.eq(Mux(beat.nbytes > width, width, beat.nbytes))
        near = Signal()  # headroom < width: then it fits in the bits of `nbytes`
        over = dropping | (words == depth) | (near & (nbytes > headroom[: width.bit_length()]))
        empty = (headroom == limit) & (nbytes == 0)
        store = (nbytes != 0) | beat.last
        m.d.comb += [
            self.w.valid.eq(self.i.valid & store & ~over),
            self.w.payload.data.eq(beat.data),
            self.w.payload.nbytes.eq(nbytes),
            self.w.payload.last.eq(beat.last),
            self.i.ready.eq(self.w.ready | dropping | (words == depth)),
        ]
        with m.If(self.i.valid & self.i.ready):
            with m.If(over):
                m.d.sync += dropping.eq(1)
            with m.Else():
                left = headroom - nbytes
                m.d.sync += [headroom.eq(left), near.eq(left < width), words.eq(words + self.w.valid)]
            with m.If(beat.last):
                m.d.sync += [headroom.eq(limit), near.eq(limit < width), words.eq(0), dropping.eq(0)]
                m.d.comb += [self.oversize.eq(over), self.empty.eq(~over & empty),
                             self.commit.eq(~over & ~empty), self.discard.eq(over | empty)]
        return m
