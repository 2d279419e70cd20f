"""The frame join alone, for any input (docs/invariants.md §6): no frame leaves without its own
decision, whatever the store and the control offer it (mismatched, missing or extra numbers).

`FrameJoin` under a free store side (`frame`, `tag`) and a free job side; the only assumptions
are the store's output contract, which `frames.py` proves of the real `PacketBuffer`: a stalled
beat stays (valid, payload and tag), and every beat of one frame carries the same number. The
outputs' ready are free.

Properties (k-induction, unbounded):

* `frame_o` carries beats only between a `job_o` transfer and the last beat of the frame that
  follows it, and every one of those beats is under the job's number;
* a job is released only with the frame of its number at the head of `frame`, and never while
  a frame is still going out;
* `desync` pulses only when a frame and a job are both offered and their numbers differ.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Assume, Elaboratable, Module, Signal

from ...gateware.esp.frame_join import FrameJoin
from ...gateware.packet import FRAME_TAG
from .frames import Job
from .runner import elaborated, in_state, no_reset


class JoinAlone(Elaboratable):
    def __init__(self, width=2, *, join=None):
        self.width = width
        self.join = join or (lambda: FrameJoin(Job, width))

    def elaborate(self, platform):
        m = Module()
        no_reset(m)
        unit = self.join()
        m.submodules.join = frag = elaborated(unit)
        join = unit
        frame, job = join.frame, join.job
        beat = frame.payload
        m.d.comb += [frame.valid.eq(AnySeq(1)), beat.eq(AnySeq(len(beat.as_value()))), join.tag.eq(AnySeq(8)),
                     job.valid.eq(AnySeq(1)), job.payload.eq(AnySeq(len(job.payload.as_value()))),
                     join.frame_o.ready.eq(AnySeq(1)), join.job_o.ready.eq(AnySeq(1))]

        # -- the store's output contract (assumed) ----------------------------------------------
        stalled, held_beat, held_tag = Signal(), Signal.like(beat), Signal(FRAME_TAG)
        mid, mid_tag = Signal(), Signal(FRAME_TAG)  # inside a frame (a beat taken, not its last)
        m.d.sync += [stalled.eq(frame.valid & ~frame.ready), held_beat.eq(beat), held_tag.eq(join.tag)]
        with m.If(stalled):
            m.d.comb += Assume(frame.valid & (beat.as_value() == held_beat.as_value()) & (join.tag == held_tag))
        with m.If(frame.valid & mid):
            m.d.comb += Assume(join.tag == mid_tag)
        with m.If(frame.valid & frame.ready):
            m.d.sync += [mid.eq(~beat.last), mid_tag.eq(join.tag)]

        # -- shadow: the job released and its frame still going out ----------------------------
        open_, released = Signal(), Signal(FRAME_TAG)
        with m.If(join.job_o.valid & join.job_o.ready):
            m.d.sync += [open_.eq(1), released.eq(job.payload.tag)]
        with m.If(join.frame_o.valid & join.frame_o.ready & join.frame_o.payload.last):
            m.d.sync += open_.eq(0)

        with m.If(join.frame_o.valid):
            m.d.comb += [Assert(open_), Assert(join.tag == released),
                         Assert(join.frame_o.payload.as_value() == beat.as_value())]
        with m.If(join.job_o.valid):
            m.d.comb += [Assert(~open_), Assert(frame.valid), Assert(job.valid), Assert(job.payload.tag == join.tag),
                         Assert(join.job_o.payload.as_value() == job.payload.as_value())]
        with m.If(join.desync):
            m.d.comb += Assert(frame.valid & job.valid & (job.payload.tag != join.tag))

        # -- inductive strengthening: the shadow and the join's state agree --------------------
        try:
            framing = in_state(frag, "FRAME")
            pairing = in_state(frag, "PAIR")
        except KeyError:  # a mutated join with other states: the properties above must still fail
            framing = pairing = None
        if framing is not None:
            m.d.comb += Assert(open_ == framing)
            with m.If(pairing):
                m.d.comb += Assert(~mid)
            with m.If(open_ & mid):
                m.d.comb += Assert(mid_tag == released)
            with m.If(open_ & stalled):
                m.d.comb += Assert(held_tag == released)
            with m.If(open_ & ~mid):  # the job went with the frame's first beat, still offered
                m.d.comb += Assert(stalled)
        return m
