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

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .gf128 import (
    clmul,
    fold,
    gf128_mul,
    gf128_square,
    horner_step,
    karatsuba_join,
    karatsuba_split,
    poly_reduce,
    reflect,
)

__all__ = ["GHASH", "GHASHInput"]

GHASHInput = data.StructLayout({"block": 128, "h": 128, "first": 1, "last": 1})


class GHASH(wiring.Component):
    """GHASH_H(X_1 … X_m), SP 800-38D §6.4 Algorithm 2: Y_i = (Y_{i-1} ⊕ X_i)·H, Y_0 = 0.

    ``config="wide"``: one block per cycle sustained, no bubble between packets, latency 4.
    The Y loop cannot hold a full 128×128 multiply at speed (single-cycle variant,
    ``pipelined=False``: ~12 k LUT4 whose all-to-all wiring routes badly, see docs/synth.md), so
    the default splits each packet into two interleaved Horner chains over H^2 (aggregated
    reduction, a standard GHASH technique): block k goes to chain k mod 2,
    chain ← (chain ⊕ X_k)·H^2, except the packet's last block, multiplied by H; then
    S = chain_0 ⊕ chain_1 (the chain without the last block ended one block earlier, with
    H^2, so both carry the right powers).  A chain is revisited every second block, so the
    multiplier gets two pipeline stages around a two-level Karatsuba–Ofman multiplier
    (:func:`.gf128.karatsuba_split`): stage A ANDs and XORs the operands into nine 32×32
    carry-less sub-products (registered); stage B recombines them
    (:func:`.gf128.karatsuba_join`), reduces, and writes the chain.  The operands are held
    already split (9 × 32 bits; the split is linear), and the chain operand is selected on
    the way into stage A (forwarded from stage B when block k-2's product is being written
    in that cycle), so stage A starts at plain registers that each feed 32 ANDs.  Karatsuba
    rather than schoolbook for wiring, not logic: 9216 ANDs instead of 16384 and 32-fold
    instead of 128-fold operand fanout, which is what limits routing (docs/synth.md).  H^2
    costs only an XOR network (squaring is linear) computed as blocks arrive, so H still
    travels with the data and may change every packet.

    ``config="compact"``: digit-serial Horner multiplier (:func:`.gf128.horner_step`),
    ``digit`` bits of X per cycle, reduced lazily (each step's overflow is folded in by the
    next step, the last one on the way to the output register).  ``ceil(128 / digit) + 1``
    cycles per block sustained (X is zero-extended at the top to whole digits): the next block
    is loaded from the registered product in the cycle after it completes, which keeps the
    multiplier out of the load path.  Default ``digit=16``: 9 cycles/block = 14.2 bit/cycle,
    more than the compact GCM engine's AES gives (Nr ≥ 10 cycles per block); ``digit=11``:
    13 cycles/block, still ahead of its AES-256 (14), with a 128 × 11 AND-XOR network instead
    of 128 × 16.

    Results wait in an output register; when it is still full, the pipeline (wide), a
    ``last`` block (single-cycle wide) or the final step of a ``last`` block (compact)
    waits, so ``o.ready`` backpressure stalls ``i.ready``.
    """

    def __init__(self, config="wide", *, digit=16, pipelined=True):
        self._MustUse__silence = True  # no "never used" warning if we raise below
        if config not in ("wide", "compact"):
            raise ValueError(f"config must be 'wide' or 'compact', not {config!r}")
        if config == "compact" and (not isinstance(digit, int) or not 1 <= digit <= 64):
            raise ValueError(f"digit must be an integer from 1 to 64, not {digit!r}")
        self._MustUse__silence = False
        self.config = config
        self.pipelined = bool(pipelined) and config == "wide"
        self.digit = digit if config == "compact" else 128
        #: Sustained cycles per 128-bit block (the throughput contract).
        steps = -(-128 // self.digit)
        self.cycles_per_block = 1 if config == "wide" else steps + 1
        #: Clock edges from the one that accepts a packet's last block to the first at which
        #: its S can be taken from ``o``.
        self.latency = (4 if self.pipelined else 1) if config == "wide" else steps + 2
        super().__init__({
            "i": In(stream.Signature(GHASHInput)),
            "o": Out(stream.Signature(128)),
        })

    def elaborate(self, platform):
        if self.config == "compact":
            return self._elaborate_compact()
        if not self.pipelined:
            return self._elaborate_wide()
        return self._elaborate_wide_pipelined()

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

    def _elaborate_wide_pipelined(self):
        m = Module()
        i, o = self.i, self.o
        levels = 2  # Karatsuba levels: 9 sub-products registered between the multiplier stages
        n, w = 3 ** levels, 128 >> levels  # sub-products, their operand width

        en = Signal()  # the whole pipeline advances; low only when a result cannot leave

        # The multiplier operands are kept Karatsuba-split (the n sub-product operands side by
        # side; the split is linear), so stage A is only the AND-XOR of registered operands.
        def split(v):  # v in polynomial order
            return Cat(*karatsuba_split(v, levels))

        # Two interleaved Horner chains per packet: block k goes to chain k mod 2, and reads
        # the product of block k-2, which stage B writes into the chain's accumulator or (when
        # block k follows right behind) forwards on the edge that loads block k into stage A.
        acc = [Signal(128, name=f"acc{c}") for c in range(2)]
        accx = [Signal(n * w, name=f"accx{c}") for c in range(2)]  # split(acc[c])
        # Registered so that only registers drive the ~288-fold operand selects:
        nxt = Signal()  # chain of the packet's block after the one in stage A
        cnt = Signal(range(3))  # blocks of this packet up to the one in stage A, saturating at 2
        fwd = Signal()  # the block in stage B is on chain nxt (a next block reads its product)

        # Stage A: the accepted block's operands, (chain ⊕ X) and H^2 (or H for a last block).
        a_valid, a_first, a_last, a_chain = (Signal(name=f"a_{f}")
                                             for f in ("valid", "first", "last", "chain"))
        a_y, a_x, a_oph = (Signal(n * w, name=f"a_{f}") for f in ("y", "x", "oph"))
        oph = Signal(128)
        m.d.comb += oph.eq(Mux(i.payload.last, i.payload.h,
                               gf128_square(m, i.payload.h, name="h2")))
        b_valid, b_last, b_single, b_chain = (Signal(name=f"b_{f}")
                                              for f in ("valid", "last", "single", "chain"))
        b_parts = [Signal(2 * w - 1, name=f"b_mul{j}") for j in range(n)]
        prod = poly_reduce(m, karatsuba_join(m, b_parts, levels, name="mul"), name="mul_red")
        chain_n = Mux(i.payload.first, 0, nxt)
        nxt_n = Mux(i.valid, ~chain_n, nxt)
        fresh_n = i.payload.first | (cnt == 1)  # blocks 1 and 2 start their chains from 0
        y_n = Mux(fresh_n, 0, Mux(fwd, split(prod), Mux(nxt, accx[1], accx[0])))
        with m.If(en):
            m.d.sync += [a_valid.eq(i.valid), a_first.eq(i.payload.first),
                         a_last.eq(i.payload.last), a_chain.eq(chain_n), nxt.eq(nxt_n),
                         fwd.eq(a_valid & (a_chain == nxt_n)), a_y.eq(y_n),
                         a_x.eq(split(reflect(i.payload.block))), a_oph.eq(split(reflect(oph)))]
        with m.If(en & i.valid):
            m.d.sync += cnt.eq(Mux(i.payload.first, 1, Mux(cnt == 2, 2, cnt + 1)))
        m.d.comb += i.ready.eq(en)

        # Stage B: the registered sub-products, recombined and reduced, go into acc[chain].
        op_x = a_y ^ a_x
        parts = [clmul(m, op_x[w * j:w * (j + 1)], a_oph[w * j:w * (j + 1)], name=f"mul{j}")
                 for j in range(n)]
        with m.If(en):
            m.d.sync += [b_valid.eq(a_valid), b_last.eq(a_last), b_single.eq(a_first & a_last),
                         b_chain.eq(a_chain)]
            m.d.sync += [bp.eq(p) for bp, p in zip(b_parts, parts, strict=True)]
        with m.If(en & b_valid):
            for c in range(2):
                with m.If(b_chain == c):
                    m.d.sync += [acc[c].eq(reflect(prod)), accx[c].eq(split(prod))]

        # Stage C (tags only): a last block was multiplied by H, the block before it (other
        # chain) by H^2 after all earlier ones, so S = acc[chain] ⊕ acc[other].  The next
        # packet's first product lands in acc at the earliest on the edge that takes S.
        c_valid, c_single, c_chain = (Signal(name=f"c_{f}") for f in ("valid", "single", "chain"))
        with m.If(en):
            m.d.sync += [c_valid.eq(b_valid & b_last), c_single.eq(b_single), c_chain.eq(b_chain)]
        s_val = Mux(c_chain, acc[1], acc[0]) ^ Mux(c_single, 0, Mux(c_chain, acc[0], acc[1]))
        emit = c_valid
        m.d.comb += en.eq(~(emit & o.valid & ~o.ready))
        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        with m.If(en & emit):
            m.d.sync += [o.valid.eq(1), o.payload.eq(s_val)]
        return m

    def _elaborate_compact(self):
        m = Module()
        i, o = self.i, self.o
        d = self.digit
        n = -(-128 // d)  # steps per block: X zero-extended at the top to n digits

        # Internal state in polynomial order (bit k = coefficient of x^k).
        busy = Signal()
        last = Signal()
        cnt = Signal(range(n))
        z = Signal(128)  # partial product V = z + o·x^128, reduced lazily (gf128.horner_step);
        o_hi = Signal(d)  # after completion V = Y of the packet so far
        x = Signal(n * d)  # Y_{i-1} ⊕ X_i, consumed from the top (highest degree) digit down
        digit = Signal(d)  # the digit of x this step multiplies: its own register, placed by
                           # the multiplier it fans out to (128-fold), away from x's loading
        h = Signal(128)
        fresh = Signal()  # first step of a block: V, which holds Y until then, counts as 0
        emit = Signal()   # the packet's S is complete in V: to the output register next

        z_next, o_next = horner_step(m, Mux(fresh, 0, z), Mux(fresh, 0, o_hi), digit, h, name="step")
        y = Signal(128)
        m.d.comb += y.eq(z ^ fold(o_hi))

        done = Signal()  # registered busy & (cnt == n - 1): keeps the counter off the control path
        # A last block retires once the previous S has left: registered signals only, so that
        # o.ready does not reach i.ready (and the engine's control) through this block.
        retire_ok = ~last | ~(o.valid | emit)
        m.d.comb += i.ready.eq(~busy)

        # The next block loads in the cycle after a product completes, from the registered Y:
        # one cycle per block more, but the multiplier's output never reaches the x register.
        x_load = Signal(n * d)
        m.d.comb += x_load.eq(Mux(i.payload.first, 0, y) ^ reflect(i.payload.block))

        with m.If(o.ready):
            m.d.sync += o.valid.eq(0)
        m.d.sync += emit.eq(0)
        with m.If(emit):
            m.d.sync += [o.valid.eq(1), o.payload.eq(reflect(y))]
        with m.If(~busy):
            # Loaded whether a block is offered or not (nothing reads them while idle), so the
            # wide registers are enabled by a flip-flop, not by the input handshake.
            m.d.sync += [busy.eq(i.valid), fresh.eq(1), cnt.eq(0), done.eq(0), last.eq(i.payload.last),
                         x.eq(x_load << d), digit.eq(x_load[n * d - d:]), h.eq(reflect(i.payload.h))]
        with m.Elif(~done | retire_ok):
            m.d.sync += [z.eq(z_next), o_hi.eq(o_next), fresh.eq(0), x.eq(x << d), digit.eq(x[n * d - d:]),
                         cnt.eq(cnt + 1), done.eq(cnt == n - 2)]
            with m.If(done):
                m.d.sync += [busy.eq(0), emit.eq(last)]
        return m
