"""Transactional packet buffer: a frame is released only once it is committed (the decap
side's guarantee that no byte of a packet whose ICV fails leaves, RFC 4303 §3.4.4).

The writer streams frames in back to back; one `commit` transfer per frame, in order, decides
each: `ok` keeps its first `length` bytes (a trailer and ICV are cut off by committing a
shorter length), otherwise the frame is discarded: the reader skips its words without a beat
out. Only committed frames are read out, whole and in order. Up to `frames` written frames may
wait for their commit, so the next frame streams in while the last one's verdict is pending.
A frame larger than the whole buffer cannot be held: it is swallowed and then dropped whatever
its commit says (`overflow` pulses), so the pipeline never deadlocks.

Every frame written is numbered (`tag`, modulo 256, counted from reset); the number comes out
beside each beat of the frame. With `placeholders`, every frame written also comes out: one
that is not kept (empty, swallowed, or discarded) as a single empty beat (`nbytes` 0, `first`
and `last`), so a consumer that pairs frames with decisions one to one never loses count.

With a `meta` layout, the commit also carries per-frame data known only then (such as header
patch values); it is kept with the committed frame only and is on the `meta` output with every
beat of that frame (changing only as the frame's first beat appears), so discarded and dropped
frames leave none behind.
"""

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..packet import FRAME_TAG, packet_signature


def commit_layout(meta: data.Layout | None = None) -> data.StructLayout:
    fields = {"ok": 1, "length": 16}
    return data.StructLayout(fields if meta is None else {**fields, "meta": meta})


class PacketBuffer(wiring.Component):
    """`depth` words of `width` bytes; up to `frames` frames awaiting their commit, and as many
    committed ones queued for reading."""

    def __init__(self, width: int = 16, depth: int = 1024, frames: int = 16, meta: data.Layout | None = None,
                 *, placeholders: bool = False):
        if depth & (depth - 1) or depth < 2:
            raise ValueError(f"depth: {depth} is not a power of two >= 2")
        self.width, self.depth, self.frames, self.meta_layout = width, depth, frames, meta
        self.placeholders = placeholders
        members = {
            "i": In(packet_signature(width)),
            "commit": In(stream.Signature(commit_layout(meta))),
            "o": Out(packet_signature(width)),
            "tag": Out(FRAME_TAG),  # the number of the frame `o` carries
            "overflow": Out(1),  # pulses when a frame too large for the buffer is dropped
        }
        if meta is not None:
            members["meta"] = Out(meta)  # the committed meta of the frame `o` carries
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        width, depth = self.width, self.depth
        pointer = unsigned(depth.bit_length())  # one bit more than the address: full vs empty
        fields = {"length": 16, "words": range(depth + 1), "keep": 1, "tag": FRAME_TAG}
        descriptor = data.StructLayout(fields if self.meta_layout is None else {**fields, "meta": self.meta_layout})
        m.submodules.mem = mem = Memory(shape=8 * width, depth=depth, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=descriptor.size, depth=self.frames)

        # -- writer: append beats; a frame's extent waits in `pending` for its commit --------
        written_layout = data.StructLayout({"words": range(depth + 1), "bytes": 17, "overflowed": 1, "tag": FRAME_TAG})
        m.submodules.pending = pending = fifo.SyncFIFOBuffered(width=written_layout.size, depth=self.frames)
        wr_ptr, freed = Signal(pointer), Signal(pointer)
        words, written, overflowed, number = Signal(range(depth + 1)), Signal(17), Signal(), Signal(FRAME_TAG)
        full = (wr_ptr - freed)[: pointer.width] == depth
        swallow = overflowed | (full & (words == depth))  # this frame alone fills the buffer
        beat = self.i.payload
        m.d.comb += [
            self.i.ready.eq((~full | swallow) & (~beat.last | pending.w_rdy)),
            wr.addr.eq(wr_ptr),
            wr.data.eq(beat.data),
        ]
        done = data.View(written_layout, pending.w_data)
        m.d.comb += [done.words.eq(words + ~swallow), done.bytes.eq(written + Mux(swallow, 0, beat.nbytes)),
                     done.overflowed.eq(swallow), done.tag.eq(number)]
        with m.If(self.i.valid & self.i.ready):
            with m.If(swallow):
                m.d.sync += overflowed.eq(1)
            with m.Else():
                m.d.comb += wr.en.eq(1)
                m.d.sync += [wr_ptr.eq(wr_ptr + 1), words.eq(words + 1), written.eq(written + beat.nbytes)]
            with m.If(beat.last):
                m.d.comb += pending.w_en.eq(1)
                m.d.sync += [words.eq(0), written.eq(0), overflowed.eq(0), number.eq(number + 1)]

        verdict, extent = self.commit.payload, data.View(written_layout, pending.r_data)
        kept = Signal(descriptor)
        m.d.comb += [
            kept.length.eq(Mux(verdict.length < extent.bytes, verdict.length, extent.bytes)),
            kept.words.eq(extent.words),
            kept.tag.eq(extent.tag),
            kept.keep.eq(verdict.ok & ~extent.overflowed & (kept.length != 0)),
            queue.w_data.eq(kept),
            self.commit.ready.eq(pending.r_rdy & queue.w_rdy),
        ]
        if self.meta_layout is not None:
            m.d.comb += kept.meta.eq(verdict.meta)
        with m.If(self.commit.valid & self.commit.ready):
            m.d.comb += [pending.r_en.eq(1), queue.w_en.eq(1), self.overflow.eq(extent.overflowed)]

        # -- reader: committed frames out, through the read port's output register ----------
        frame = Signal(descriptor)
        reading, rd_ptr, frame_start = Signal(), Signal(pointer), Signal(pointer)
        bytes_left, sent_first = Signal(17), Signal()
        advance = ~self.o.valid | self.o.ready
        fetch = advance & reading
        m.d.comb += [rd.addr.eq(rd_ptr), rd.en.eq(advance), self.o.payload.data.eq(rd.data)]
        with m.If(advance):
            m.d.sync += self.o.valid.eq(fetch)
        head = data.View(descriptor, queue.r_data)
        with m.If(~reading & queue.r_rdy):
            m.d.comb += queue.r_en.eq(1)
            with m.If(head.keep | self.placeholders):
                m.d.sync += [reading.eq(1), frame.eq(head), bytes_left.eq(Mux(head.keep, head.length, 0)),
                             frame_start.eq(rd_ptr), sent_first.eq(0)]
            with m.Else():  # discarded: free its words unread
                m.d.sync += [rd_ptr.eq(rd_ptr + head.words), freed.eq(rd_ptr + head.words)]
        with m.If(fetch):
            last = bytes_left <= width
            m.d.sync += [
                self.o.payload.nbytes.eq(Mux(last, bytes_left, width)),
                self.o.payload.first.eq(~sent_first),
                self.o.payload.last.eq(last),
                sent_first.eq(1),
                bytes_left.eq(bytes_left - width),
                rd_ptr.eq(rd_ptr + 1),
            ]
            m.d.sync += self.tag.eq(frame.tag)
            if self.meta_layout is not None:
                m.d.sync += self.meta.eq(frame.meta)
            with m.If(last):  # skip the words of the cut-off tail; free the whole frame
                m.d.sync += [reading.eq(0), rd_ptr.eq(frame_start + frame.words),
                             freed.eq(frame_start + frame.words)]
        return m
