"""Frames and decisions in step (docs/invariants.md §6): a direction's intake (parser, store and
join, `gateware/esp/intake.py`, as `outbound.py` and `inbound.py` use it), with the control
replaced by a free decider.

    i -> FrameParser -> PacketBuffer(placeholders=True) -> FrameJoin -> frame_o
              +-> parsed -> decider (any delay, any queue state) -> job ---^ -> job_o

Everything outside is free: every input beat's valid, data, nbytes (0 .. 2**bits - 1, beyond the
width too), first and last; the ready of `frame_o` and `job_o`; when the decider takes a record
and when it offers its job. The decider is the control's contract: one job per parsed record, in
order, carrying the record's tag (both controls build `job.tag` from `rec.tag` and emit exactly
one job per record taken).

Properties, with shadow counters of frames in (`last` transfers at the input), jobs released and
frames released (`last` transfers on `frame_o`):

* `desync` never pulses;
* the k-th job released carries tag k (mod 256), and only for a frame already taken in whole;
* a job is released only when the previous frame has gone out whole, and `frame_o` carries
  beats only between a job's release and its frame's last beat, each beat from the store under
  the job's own number;
* the frame released after job k is the k-th frame written, whole: for a watched frame (any
  number, `AnyConst`) the bytes out equal the bytes in, or it comes out as one empty beat if it
  was empty or larger than the store (placeholder);
* (cover) a frame gets through.
"""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Cover, Elaboratable, Module, Mux, Signal
from amaranth.lib import data

from ...gateware.esp.frame_join import FrameJoin
from ...gateware.esp.intake import Intake
from ...gateware.esp.packet_buffer import PacketBuffer
from ...gateware.packet import FRAME_TAG
from ...gateware.plumbing import Queue
from .runner import no_reset

Job = data.StructLayout({"tag": FRAME_TAG})


class HarnessIntake(Intake):
    """The design's intake with the store and join the harness builds: a store smaller than the
    frames the parser admits (`max_frame` 64), so a frame beyond it is reachable within the bound,
    or the mutation checks' broken units."""

    def __init__(self, width, records, store, join):
        super().__init__(Job, width, store_words=64 // width, max_frame=64, records=records)
        self.make_store, self.built_join = store, join()  # built now: the harness watches its inputs

    def store(self):
        return self.make_store()

    def join(self):
        return self.built_join


class FramesInStep(Elaboratable):
    """`store` and `join` build the units under test (the mutation checks pass broken ones)."""

    def __init__(self, width=4, depth=4, frames=2, records=2, decisions=2, *, store=None, join=None):
        self.width, self.depth, self.frames, self.records, self.decisions = width, depth, frames, records, decisions
        self.store = store or (lambda: PacketBuffer(width, depth=depth, frames=frames, placeholders=True))
        self.join = join or (lambda: FrameJoin(Job, width))

    def elaborate(self, platform):
        m = Module()
        no_reset(m)
        depth = self.depth
        m.submodules.intake = intake = HarnessIntake(self.width, self.records, self.store, self.join)
        m.submodules.decider = decider = Queue(Job, self.decisions)

        # -- the intake of outbound.py / inbound.py, its control a free decider -----------------
        beat = intake.i.payload
        m.d.comb += [intake.i.valid.eq(AnySeq(1)), beat.eq(AnySeq(len(beat.as_value())))]
        take = AnySeq(1)  # the decider takes a record when it likes, offers its job as soon as queued
        m.d.comb += [decider.i.valid.eq(intake.parsed.valid & take), intake.parsed.ready.eq(decider.i.ready & take),
                     decider.i.payload.tag.eq(intake.parsed.payload.tag)]
        m.d.comb += [intake.job.valid.eq(decider.o.valid), intake.job.payload.eq(decider.o.payload),
                     decider.o.ready.eq(intake.job.ready)]
        m.d.comb += [intake.frame.ready.eq(AnySeq(1)), intake.job_o.ready.eq(AnySeq(1))]
        join = intake.built_join  # its frame number input: the store's number of the frame offered

        # -- shadow: frames in, jobs released, frames released ---------------------------------
        n_in, n_jobs, n_out = Signal(8), Signal(8), Signal(8)
        frame_in = intake.i.valid & intake.i.ready
        job_out = intake.job_o.valid & intake.job_o.ready
        beat_out = intake.frame.valid & intake.frame.ready
        out = intake.frame.payload
        with m.If(frame_in & beat.last):
            m.d.sync += n_in.eq(n_in + 1)
        with m.If(job_out):
            m.d.sync += n_jobs.eq(n_jobs + 1)
        with m.If(beat_out & out.last):
            m.d.sync += n_out.eq(n_out + 1)

        m.d.comb += Assert(~intake.desync)
        with m.If(intake.job_o.valid):
            m.d.comb += [Assert(intake.job_o.payload.tag == n_jobs), Assert(n_jobs < n_in), Assert(n_out == n_jobs)]
        with m.If(intake.frame.valid):
            m.d.comb += [Assert(n_jobs == n_out + 1), Assert(join.tag == n_out)]
        m.d.comb += [Assert(n_out <= n_jobs), Assert(n_jobs <= n_in)]

        # -- a watched frame, whole: bytes in = bytes out, or one empty beat --------------------
        watch = Signal(8)
        m.d.comb += watch.eq(AnyConst(8))
        in_bytes, in_beats, out_bytes, out_beats = Signal(17), Signal(range(depth + 2)), Signal(17), Signal(8)
        with m.If(frame_in & (n_in == watch)):
            m.d.sync += in_bytes.eq(in_bytes + beat.nbytes)
            with m.If(in_beats <= depth):
                m.d.sync += in_beats.eq(in_beats + 1)
        kept = (in_beats <= depth) & (in_bytes != 0)
        with m.If(beat_out & (n_out == watch)):
            m.d.sync += [out_bytes.eq(out_bytes + out.nbytes), out_beats.eq(out_beats + 1)]
            with m.If(out.last):
                m.d.comb += [Assert(n_in > watch),
                             Assert(out_bytes + out.nbytes == Mux(kept, in_bytes, 0))]
                with m.If(~kept):
                    m.d.comb += Assert((out_beats == 0) & (out.nbytes == 0) & out.first)

        # reachable: a frame of more than one beat and the placeholder of an empty frame, each
        # released second (after another frame), and the placeholder of an oversize frame
        released = beat_out & out.last & (n_out == watch)
        m.d.comb += [Cover(released & (watch == 1) & (out_beats > 0)),
                     Cover(released & (watch == 1) & (in_beats == 1) & (in_bytes == 0)),
                     Cover(released & (in_beats > depth))]
        return m
