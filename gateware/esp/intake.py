"""A direction's intake: every frame that comes in gets one record and one place, and leaves only
with its own decision (docs/invariants.md §6, docs/frames.md).

    i -> FrameParser -> PacketBuffer (store, with placeholders) -> FrameJoin -> frame
              +-> parsed -> (the direction's control) -> job -------^ -> job_o

The parser and the store number the frames they take from the same transfers; the control turns
each parsed record into one job carrying the record's number; the join releases a stored frame
only after the job of the same number (`sim/formal/frames.py` proves this chain).
"""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature
from .frame_join import FrameJoin
from .packet_buffer import PacketBuffer
from .parser import FrameParser, Parsed


class Intake(wiring.Component):
    """Frames of up to `max_frame` bytes stored whole in `store_words` words; `job` has a `tag`."""

    def __init__(self, job: data.StructLayout, width: int = 16, *, store_words: int = 1024, max_frame: int = 9216,
                 records: int = 2, frames: int = 16):
        # records: parsed frames waiting for the control; two fit in flip-flops (a distributed RAM
        # costs ~1.5 LUT sites a bit), at the price of two cycles for each back-to-back one-beat frame
        if max_frame > store_words * width:
            raise ValueError(f"max_frame: {max_frame} bytes do not fit the {store_words * width}-byte store")
        self.job_layout, self.width, self.store_words, self.max_frame = job, width, store_words, max_frame
        self.records, self.frames = records, frames
        super().__init__({
            "i": In(packet_signature(width)), "parsed": Out(stream.Signature(Parsed)),
            "job": In(stream.Signature(job)),
            "frame": Out(packet_signature(width)), "job_o": Out(stream.Signature(job)),
            "desync": Out(1),  # the join dropped a frame or a job without its partner
        })

    def store(self) -> PacketBuffer:
        return PacketBuffer(self.width, depth=self.store_words, frames=self.frames, placeholders=True)

    def join(self) -> FrameJoin:
        return FrameJoin(self.job_layout, self.width)

    def elaborate(self, platform):
        m = Module()
        m.submodules.parser = parser = FrameParser(self.width, self.records, max_frame=self.max_frame)
        m.submodules.store = store = self.store()
        m.submodules.join = join = self.join()
        wiring.connect(m, wiring.flipped(self.i), parser.i)
        wiring.connect(m, parser.o, store.i)
        m.d.comb += [store.commit.valid.eq(1), store.commit.payload.ok.eq(1), store.commit.payload.length.eq(-1)]
        wiring.connect(m, parser.parsed, wiring.flipped(self.parsed))
        wiring.connect(m, store.o, join.frame)
        wiring.connect(m, wiring.flipped(self.job), join.job)
        wiring.connect(m, join.frame_o, wiring.flipped(self.frame))
        wiring.connect(m, join.job_o, wiring.flipped(self.job_o))
        m.d.comb += [join.tag.eq(store.tag), self.desync.eq(join.desync)]
        return m
