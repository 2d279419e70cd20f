"""No byte of a frame whose verdict is to drop it leaves the verified buffer (docs/invariants.md
§1): the decapsulation side's `PacketBuffer` (without placeholders), alone.

Everything is free: the beats written (valid, data, nbytes, last), the commits (valid, ok,
length) and the reader's ready. Shadow: a watched frame (any number, `AnyConst`), its bytes and
beats written and its commit. Properties:

* every beat out carries the number of a frame already committed with `ok` and kept (its
  length and bytes not 0, no larger than the buffer); a discarded, empty or swallowed frame puts
  no beat out;
* the watched frame comes out with exactly min(committed length, bytes written) bytes;
* commits are taken only for frames already written whole, one each, in order;
* (cover) a committed frame comes out, a discarded one is skipped before it.
"""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Cover, Elaboratable, Module, Mux, Signal

from ...gateware.esp.packet_buffer import PacketBuffer
from .runner import no_reset


class VerifiedBuffer(Elaboratable):
    def __init__(self, width=4, depth=4, frames=2, *, store=None):
        self.width, self.depth = width, depth
        self.store = store or (lambda: PacketBuffer(width, depth=depth, frames=frames))

    def elaborate(self, platform):
        m = Module()
        no_reset(m)
        depth = self.depth
        m.submodules.buf = buf = self.store()
        beat, verdict, out = buf.i.payload, buf.commit.payload, buf.o.payload
        m.d.comb += [buf.i.valid.eq(AnySeq(1)), beat.eq(AnySeq(len(beat.as_value()))),
                     buf.commit.valid.eq(AnySeq(1)), verdict.eq(AnySeq(len(verdict.as_value()))),
                     buf.o.ready.eq(AnySeq(1))]

        written, committed, released = Signal(8), Signal(8), Signal(8)
        wrote = buf.i.valid & buf.i.ready
        commit = buf.commit.valid & buf.commit.ready
        beat_out = buf.o.valid & buf.o.ready
        with m.If(wrote & beat.last):
            m.d.sync += written.eq(written + 1)
        with m.If(commit):
            m.d.sync += committed.eq(committed + 1)
            m.d.comb += Assert(committed < written)

        watch = Signal(8)
        m.d.comb += watch.eq(AnyConst(8))
        w_bytes, w_beats = Signal(17), Signal(range(depth + 2))
        w_committed, w_ok, w_length = Signal(), Signal(), Signal(16)
        with m.If(wrote & (written == watch)):
            m.d.sync += w_bytes.eq(w_bytes + beat.nbytes)
            with m.If(w_beats <= depth):
                m.d.sync += w_beats.eq(w_beats + 1)
        with m.If(commit & (committed == watch)):
            m.d.sync += [w_committed.eq(1), w_ok.eq(verdict.ok), w_length.eq(verdict.length)]
        length = Mux(w_length < w_bytes, w_length, w_bytes)
        kept = w_committed & w_ok & (w_beats <= depth) & (length != 0)

        out_bytes = Signal(17)
        with m.If(buf.o.valid):
            m.d.comb += Assert(buf.tag < committed)  # only committed frames, in this bounded run
        with m.If(buf.o.valid & (buf.tag == watch)):
            m.d.comb += Assert(kept)
        with m.If(beat_out & (buf.tag == watch)):
            m.d.sync += out_bytes.eq(out_bytes + out.nbytes)
            with m.If(out.last):
                m.d.comb += Assert(out_bytes + out.nbytes == length)
                m.d.sync += released.eq(released + 1)

        m.d.comb += Cover(beat_out & out.last & (buf.tag == watch) & (watch == 1) & (out_bytes != 0))
        discarded = Signal()
        with m.If(commit & ~verdict.ok & (committed == 0)):
            m.d.sync += discarded.eq(1)
        m.d.comb += Cover(beat_out & out.last & discarded & (buf.tag == 1))
        return m
