"""GHASH (NIST SP 800-38D §6.4) over a stream of blocks, one result per packet.

Interface (the GCM engine integrates against exactly this)::

    i: In(stream.Signature(StructLayout({"block": 128, "h": 128, "first": 1, "last": 1})))
    o: Out(stream.Signature(128))

Blocks and H use the block-integer convention of :mod:`.gf128` (first byte of the block is the
most significant byte), already zero-padded.  ``h`` travels with every block, so back-to-back
packets may use different hash keys with no bubble.  ``first``/``last`` mark a packet's first
and last block (the caller sends len(A) ‖ len(C) last); one GHASH value S is emitted per
packet, in order, when its ``last`` block has been absorbed.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .gf128 import gf128_mul, horner_step, reflect

__all__ = ["GHASH", "GHASHInput"]

GHASHInput = data.StructLayout({"block": 128, "h": 128, "first": 1, "last": 1})


class GHASH(wiring.Component):
    """GHASH_H(X_1 … X_m), SP 800-38D §6.4 Algorithm 2: Y_i = (Y_{i-1} ⊕ X_i)·H, Y_0 = 0.

    ``config="wide"``: one block per cycle sustained, no bubble between packets.  The whole
    multiply (:func:`.gf128.gf128_mul`, schoolbook carry-less product + two-fold reduction)
    sits combinationally in the Y-feedback loop.  Why not pipeline it: with H changing per
    packet and Y_i depending on Y_{i-1}, a pipelined multiplier would need per-packet powers
    H^2 … H^k (aggregated reduction), i.e. a key-schedule step the caller does not provide.
    Why not Karatsuba: on LUT4 fabric an AND-pair-XOR maps into one LUT, so schoolbook's extra
    ANDs cost little while Karatsuba's pre/post XOR layers lengthen the loop.

    ``config="compact"``: digit-serial Horner multiplier (:func:`.gf128.horner_step`),
    ``digit`` bits of X per cycle, so ``128 // digit`` cycles per block sustained (the next
    block is loaded in the cycle the previous product completes).  Default ``digit=16``:
    8 cycles/block = 16 bit/cycle, twice the 8 bit/cycle (1 Gbit/s at 125 MHz) the compact
    GCM engine needs.

    Both configurations hold the result in an output register; when it is still full a
    ``last`` block (wide) or the final step of a ``last`` block (compact) waits, so
    ``o.ready`` backpressure stalls ``i.ready``.
    """

    def __init__(self, config="wide", *, digit=16):
        self._MustUse__silence = True  # no "never used" warning if we raise below
        if config not in ("wide", "compact"):
            raise ValueError(f"config must be 'wide' or 'compact', not {config!r}")
        if config == "compact" and (digit not in (1, 2, 4, 8, 16, 32, 64)):
            raise ValueError(f"digit must be a power of two from 1 to 64, not {digit!r}")
        self._MustUse__silence = False
        self.config = config
        self.digit = digit if config == "compact" else 128
        #: Sustained cycles per 128-bit block (the throughput contract).
        self.cycles_per_block = 1 if config == "wide" else 128 // digit
        super().__init__({
            "i": In(stream.Signature(GHASHInput)),
            "o": Out(stream.Signature(128)),
        })

    def elaborate(self, platform):
        if self.config == "wide":
            return self._elaborate_wide()
        return self._elaborate_compact()

    def _elaborate_wide(self):
        m = Module()
        i, o = self.i, self.o

        y = Signal(128)  # Y_{i-1} of the current packet (block-integer convention)
        x = Mux(i.payload.first, 0, y) ^ i.payload.block
        y_next = gf128_mul(m, x, i.payload.h, name="y_next")

        # Only a last block needs room in the output register.
        m.d.comb += i.ready.eq(~i.payload.last | ~o.valid | o.ready)
        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(i.valid & i.ready):
            m.d.sync += y.eq(y_next)
            with m.If(i.payload.last):
                m.d.sync += [o.valid.eq(1), o.payload.eq(y_next)]
        return m

    def _elaborate_compact(self):
        m = Module()
        i, o = self.i, self.o
        d, n = self.digit, 128 // self.digit

        # Internal state in polynomial order (bit k = coefficient of x^k).
        busy = Signal()
        last = Signal()
        cnt = Signal(range(n))
        z = Signal(128)  # partial product; after completion holds Y of the packet so far
        x = Signal(128)  # Y_{i-1} ⊕ X_i, consumed from the top (highest degree) digit down
        h = Signal(128)

        step = horner_step(m, z, x[128 - d:], h, name="step")

        done = Signal()  # registered busy & (cnt == n - 1): keeps the counter off the control path
        retire_ok = ~last | ~o.valid | o.ready
        advance = busy & (~done | retire_ok)
        m.d.comb += i.ready.eq(~busy | (done & retire_ok))

        y_prev = Mux(busy, step, z)  # Y_{i-1}: completing now, or completed earlier
        x_load = Mux(i.payload.first, 0, y_prev) ^ reflect(i.payload.block)

        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(advance):
            m.d.sync += [z.eq(step), x.eq((x << d)[:128]), cnt.eq(cnt + 1), done.eq(cnt == n - 2)]
        with m.If(done & retire_ok):
            m.d.sync += [busy.eq(0), cnt.eq(0), done.eq(0)]
            with m.If(last):
                m.d.sync += [o.valid.eq(1), o.payload.eq(reflect(step))]
        with m.If(i.valid & i.ready):
            m.d.sync += [
                busy.eq(1),
                cnt.eq(0),
                done.eq(0),  # n >= 2
                last.eq(i.payload.last),
                z.eq(0),
                x.eq(x_load),
                h.eq(reflect(i.payload.h)),
            ]
        return m
