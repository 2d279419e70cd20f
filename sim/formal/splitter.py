"""The splitter's frame discipline (docs/invariants.md §1, §6, the encapsulator's and the
decapsulator's side of "no byte leaves for a frame decided against"): `Splitter` alone.

Free: the frames (valid, data, nbytes, last), the jobs (any action and offsets) and the ready of
`head` and `body`. Properties (k-induction):

* no beat is taken from `frame` without a job: one job, then exactly one frame (up to its last
  beat), then the next job;
* while a DROP job runs, neither `head` nor `body` offers anything: a dropped frame is consumed
  without a byte out;
* `head` and `body` offer only while a job runs (FORWARD, SPLIT, or the trailer after it);
* (cover) a dropped frame of two beats is consumed; a split frame's trailer goes out.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import Assert, Cover, Elaboratable, Module, Mux, Signal

from ...gateware.esp.splitter import DROP, Splitter
from .runner import elaborated, in_state, no_reset


class SplitterFrames(Elaboratable):
    def __init__(self, width=2):
        self.width = width

    def elaborate(self, platform):
        m = Module()
        no_reset(m)
        unit = Splitter(self.width)
        m.submodules.splitter = frag = elaborated(unit)
        s = unit
        beat = s.frame.payload
        m.d.comb += [s.frame.valid.eq(AnySeq(1)), beat.eq(AnySeq(len(beat.as_value()))),
                     s.job.valid.eq(AnySeq(1)), s.job.payload.eq(AnySeq(len(s.job.payload.as_value()))),
                     s.head.ready.eq(AnySeq(1)), s.body.ready.eq(AnySeq(1))]

        busy, dropping = Signal(), Signal()  # a job taken, its frame not yet consumed whole; a DROP one
        after = Signal()  # the frame consumed, the job's trailer (EXTRA) still to go
        took_job = s.job.valid & s.job.ready
        frame_end = s.frame.valid & s.frame.ready & beat.last
        with m.If(took_job):
            m.d.comb += Assert(~busy)
            m.d.sync += [busy.eq(1), dropping.eq(s.job.payload.action == DROP)]
        with m.If(s.frame.ready):
            m.d.comb += Assert(busy)
        with m.If(frame_end):
            m.d.sync += busy.eq(0)
        with m.If(dropping & busy):
            m.d.comb += [Assert(~s.head.valid), Assert(~s.body.valid)]
        with m.If(s.head.valid):
            m.d.comb += Assert(busy)
        with m.If(s.body.valid):
            m.d.comb += Assert(busy | after)

        waiting, extra = in_state(frag, "JOB"), in_state(frag, "EXTRA")
        m.d.sync += after.eq(extra | (busy & frame_end & ~dropping & in_state(frag, "SPLIT")))
        # inductive strengthening: the shadow and the splitter's state agree
        m.d.comb += [Assert(busy == ~(waiting | extra)), Assert(dropping & busy == in_state(frag, "DROP"))]
        with m.If(extra):
            m.d.comb += Assert(after)
        # reachable: a dropped frame of two beats consumed, a split frame's trailer out
        taken = Signal(2)  # beats of this frame taken before the current one
        with m.If(s.frame.valid & s.frame.ready):
            m.d.sync += taken.eq(Mux(beat.last, 0, taken + (taken != 3)))
        m.d.comb += [Cover(frame_end & dropping & (taken != 0)),
                     Cover(s.body.valid & s.body.ready & extra)]
        return m
