"""Anti-replay window logic for one SA: RFC 4303 §3.4.3 with ESN inference (Appendix A2).

The bitmap is stored as in RFC 6479: a ring of 32-bit blocks indexed by the sequence number
itself, so advancing the window clears whole blocks instead of shifting bits. With a ring of
at least W + 32 bits (a power of two blocks) no number inside the window [T - W + 1, T] ever
shares a bit with another, so the accepted set is exactly RFC 4303's W-packet window, the
same as the reference model's (`espline.sim.model.replay`).

A new window starts at a top T (an SA's replay-seq, docs/config.md) with every number up to T
taken as received (`started_at`): the whole ring marked but the numbers above T in T's block,
so the window holds T - W + 1 .. T marked, as the model's does; the other blocks are cleared
as the window reaches them.

Purely combinational: the datapath reads the SA's `State` from the SA table, presents the
received low 32 bits, gets the inferred 64-bit number and whether it is fresh, and - only
after the ICV verified - re-checks against the then-current state and writes `next_state`.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

BLOCK = 32


def ring_blocks(window: int) -> int:
    """Blocks in the ring: the smallest power of two holding window + one block."""
    blocks = 1
    while blocks * BLOCK < window + BLOCK:
        blocks *= 2
    return blocks


def state_layout(window: int) -> data.StructLayout:
    return data.StructLayout({"top": unsigned(64), "bitmap": unsigned(ring_blocks(window) * BLOCK)})


def started_at(window: int, top):
    """The state of a new window whose top is `top`, every number up to it marked received."""
    blocks = ring_blocks(window)
    index_bits = (blocks - 1).bit_length()
    block = top[5 : 5 + index_bits]
    above = (Const(2**BLOCK - 1, BLOCK) << (top[:5] + 1))[:BLOCK]  # the numbers above top in its block
    bitmap = Cat(*[Mux(block == i, ~above, Const(2**BLOCK - 1, BLOCK)) for i in range(blocks)])
    return Cat(top, bitmap)


class ReplayWindow(wiring.Component):
    """Check and record one sequence number against an SA's window of `window` packets.

    Ports: `state` in; `size` (the SA's window, 1..`window`), `seq_low`, `esn` in; `seq` (full
    number, inferred when `esn`), `fresh` (neither seen nor too old nor zero) and `next_state`
    (with `seq` recorded) out. The ring is sized for `window`, so every smaller size is exact too.
    """

    def __init__(self, window: int = 128):
        if window < 1 or window > 1 << 16:
            raise ValueError(f"window: {window} is not 1..65536")
        self.window = window
        self.blocks = ring_blocks(window)
        layout = state_layout(window)
        super().__init__({"state": In(layout), "size": In(range(window + 1), init=window), "seq_low": In(32),
                          "esn": In(1),
                          "seq": Out(64), "fresh": Out(1), "next_state": Out(layout)})

    def elaborate(self, platform):
        m = Module()
        w, top, bitmap, s = self.size, self.state.top, self.state.bitmap, self.seq_low
        index_bits = (self.blocks - 1).bit_length()
        w_bits = len(w)

        # RFC 4303 Appendix A2.2 with the low halves only: the inferred high half is T's, T's + 1 or
        # T's - 1, so every comparison of 64-bit numbers reduces to one 32-bit subtraction, t - s,
        # and which of the three the high half is (no carry chain follows another)
        t, th = top[:32], top[32:]
        below = Signal(33)  # t - s, its top bit the borrow: s > t
        m.d.comb += below.eq(t - s)
        after = below[32]
        near = (below[w_bits:32] == 0) & (below[:w_bits] < w)  # (t - s) mod 2^32 < W
        case_a = (t[w_bits:] != 0) | (t[:w_bits] >= w - 1)  # the window within one 2^32 subspace
        ge = Mux(case_a, after | near, after & near)  # s >= the window's bottom, t - W + 1 mod 2^32
        same = ~self.esn | (case_a == ge)  # high: T's (ESN), else 0
        up = self.esn & case_a & ~ge  # high: T's + 1
        down = self.esn & ~case_a & ge  # high: T's - 1 (-1 in case B means nothing valid)
        th_zero, th_ones = th == 0, th == 2**32 - 1
        high = Signal(32)
        m.d.comb += high.eq(Mux(~self.esn, 0, Mux(up, th + 1, Mux(down, th - 1, th))))
        negative = down & th_zero
        seq = self.seq
        m.d.comb += seq.eq(Cat(s, high))

        # seq > T; T - seq < W when seq <= T: the high halves differ by 0 (s <= t) or 1 (s > t)
        th_same = Mux(self.esn, 1, th_zero)  # T's high half the same as seq's
        newer = Mux(same, th_same & after, Mux(up, ~th_ones, th_zero))
        in_window = near & Mux(after, Mux(self.esn, down, th == 1), same & th_same)
        bit = Signal(range(self.blocks * BLOCK))
        m.d.comb += bit.eq(seq[: index_bits + 5])
        seen = bitmap.bit_select(bit, 1)
        high_zero = Mux(~self.esn, 1, Mux(up, th_ones, Mux(down, th == 1, th_zero)))
        m.d.comb += self.fresh.eq(((s != 0) | ~high_zero) & ~negative & (newer | (in_window & ~seen)))

        # next state: advancing clears the blocks between the old top's block and the new one's,
        # `advance` of them: (s >> 5) - (t >> 5), plus 2^27 when the high half is T's + 1
        ahead = Signal(28)
        m.d.comb += ahead.eq(s[5:] - t[5:])
        whole = (up & ~ahead[27]) | (ahead[index_bits:27] != 0)  # by a whole ring or more
        cleared = Signal(self.blocks * BLOCK)
        for i in range(self.blocks):
            # ring position i is cleared when it is one of the `advance` blocks after the old
            # top's (RFC 6479 §3: all of them when the window moves by a whole ring or more)
            distance = Signal(index_bits, name=f"distance_{i}")
            m.d.comb += distance.eq(Const(i, index_bits) - t[5 : 5 + index_bits])
            clear = newer & (whole | ((distance != 0) & (distance <= ahead[:index_bits])))
            block = slice(i * BLOCK, (i + 1) * BLOCK)
            m.d.comb += cleared[block].eq(Mux(clear, 0, bitmap[block]))
        m.d.comb += [
            self.next_state.top.eq(Mux(newer, seq, top)),
            self.next_state.bitmap.eq(cleared | (Const(1, self.blocks * BLOCK) << bit)),
        ]
        return m
