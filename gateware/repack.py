"""Byte gearbox: a frame given as fragments at any byte alignment, out as dense packet-bus beats.

Every frame a block builds - headers it inserts, a slice of a stored frame, cipher text,
an ICV - arrives here as fragments: bytes `lo .. lo+n-1` of a fragment's `data` (lanes as on
the packet bus) are the frame's next `n` bytes; `last` ends the frame (`n` may be 0 then, but
a frame has at least one byte). The output is the same byte sequence on the packet bus: full
beats, a shorter one only last. A fragment is taken every cycle the output moves, so frames
cross at full rate whatever their alignment; one idle input cycle separates frames.

It holds `2 * width` bytes, so a fragment is taken whenever at most a beat is kept.

Fragments may be wider than beats or narrower (`in_width`, a multiple or a divisor of `width`):
the gearbox between a packet bus of `width` bytes and the GCM engine's 16-byte blocks, either way.
Then the bytes are aligned at the narrower width only: wider fragments are cut into lanes of the
beat's width first (`LaneSplit`), or narrower ones aligned into dense beats of their own width
and put whole into the lanes of the wider beat (`LanePack`; its last beat keeps older bytes past
`nbytes`).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .lane_pack import LanePack
from .lane_split import LaneSplit
from .packet import fragment_layout, packet_signature

__all__ = ["Repack", "fragment_layout", "low_bytes", "widened"]


def widened(fragment, into) -> list:
    """Assignments putting `fragment` into the wider fragment `into` (same bytes, lanes above empty)."""
    return [into.data.eq(fragment.data), into.lo.eq(fragment.lo), into.n.eq(fragment.n), into.last.eq(fragment.last)]


def low_bytes(value, count, width: int):
    """The lowest `count` bytes of `value` (a `width`-byte value), the others zero."""
    mask = ~(Const(-1, 8 * width) << Cat(Const(0, 3), count))
    return value & mask[: 8 * width]


class Repack(wiring.Component):
    def __init__(self, width: int = 16, in_width: int | None = None):
        self.width, self.in_width = width, in_width or width
        if max(width, self.in_width) % min(width, self.in_width):
            raise ValueError(f"{self.in_width}-byte fragments do not divide {width}-byte beats or the reverse")
        super().__init__({"i": In(stream.Signature(fragment_layout(self.in_width))),
                          "o": Out(packet_signature(width))})

    def elaborate(self, platform):
        m = Module()
        w, v = self.width, self.in_width
        if v > w:
            m.submodules.split = split = LaneSplit(v, w)
            m.submodules.align = align = Repack(w)
            wiring.connect(m, wiring.flipped(self.i), split.i)
            wiring.connect(m, split.o, align.i)
            wiring.connect(m, align.o, wiring.flipped(self.o))
            return m
        if v < w:
            m.submodules.align = align = Repack(v)
            m.submodules.pack = pack = LanePack(v, w)
            wiring.connect(m, wiring.flipped(self.i), align.i)
            wiring.connect(m, align.o, pack.i)
            wiring.connect(m, pack.o, wiring.flipped(self.o))
            return m
        held = Signal(8 * (w + v))  # bytes accumulated, the oldest in the lowest lane
        fill = Signal(range(w + v + 1))
        closing = Signal()  # the frame's last fragment is in: flush
        first = Signal(init=1)

        o = self.o.payload
        m.d.comb += [
            self.o.valid.eq((fill > w) | (closing & (fill != 0))),  # a full beat waits: is it the last?
            o.data.eq(held[: 8 * w]),
            o.nbytes.eq(Mux(fill > w, w, fill)),
            o.last.eq(closing & (fill <= w)),
            o.first.eq(first),
        ]
        moved = self.o.valid & self.o.ready
        kept = Signal(range(w + v + 1))
        m.d.comb += [
            kept.eq(fill - Mux(moved, o.nbytes, 0)),
            self.i.ready.eq(~closing & (kept <= w)),
        ]
        f = self.i.payload
        take = self.i.valid & self.i.ready
        incoming = Signal(8 * v)
        m.d.comb += incoming.eq(low_bytes(f.data >> Cat(Const(0, 3), f.lo), f.n, v))
        # the bytes at and past `fill` are zero (`incoming` is masked to its `n`), so a beat sent
        # shifts the rest down by a whole beat: after a shorter, last one nothing is left either way
        m.d.sync += [
            held.eq(Mux(moved, held[8 * w :], held) | Mux(take, incoming << Cat(Const(0, 3), kept), 0)),
            fill.eq(kept + Mux(take, f.n, 0)),
        ]
        with m.If(take & f.last):
            m.d.sync += closing.eq(1)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += first.eq(o.last)
            with m.If(o.last):
                m.d.sync += closing.eq(0)
        return m
