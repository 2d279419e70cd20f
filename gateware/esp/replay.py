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
        w, top, bitmap = self.size, self.state.top, self.state.bitmap
        index_bits = (self.blocks - 1).bit_length()

        # RFC 4303 Appendix A2.2: the high half of the received sequence number
        top_low, top_high = top[:32], top[32:]
        bottom = Signal(32)
        m.d.comb += bottom.eq(top_low - (w - 1))
        high = Signal(33)  # one extra bit: "-1" in case B means nothing valid
        with m.If(~self.esn):
            m.d.comb += high.eq(0)
        with m.Elif(top_low >= w - 1):  # case A
            m.d.comb += high.eq(Mux(self.seq_low >= bottom, top_high, top_high + 1))
        with m.Else():  # case B
            m.d.comb += high.eq(Mux(self.seq_low >= bottom, top_high - 1, top_high))
        negative = self.esn & (top_low < w - 1) & (self.seq_low >= bottom) & (top_high == 0)
        seq = self.seq
        m.d.comb += seq.eq(Cat(self.seq_low, high[:32]))

        # fresh: new, or inside the window with its bit clear
        bit = Signal(range(self.blocks * BLOCK))
        m.d.comb += bit.eq(seq[: index_bits + 5])
        seen = bitmap.bit_select(bit, 1)
        newer = seq > top
        in_window = (top - seq) < w
        m.d.comb += self.fresh.eq((seq != 0) & ~negative & (newer | (in_window & ~seen)))

        # next state: advancing clears the blocks between the old top's block and the new one's
        old_block, new_block = top[5:], seq[5:]
        advance = Signal(64)
        m.d.comb += advance.eq(new_block - old_block)
        cleared = Signal(self.blocks * BLOCK)
        for i in range(self.blocks):
            # ring position i is cleared when it is one of the `advance` blocks after the old
            # top's (RFC 6479 §3: all of them when the window moves by a whole ring or more)
            distance = Signal(max(index_bits, 1), name=f"distance_{i}")
            if index_bits:
                m.d.comb += distance.eq(Const(i, index_bits) - old_block[:index_bits])
            clear = newer & ((advance >= self.blocks) | ((distance != 0) & (distance <= advance)))
            block = slice(i * BLOCK, (i + 1) * BLOCK)
            m.d.comb += cleared[block].eq(Mux(clear, 0, bitmap[block]))
        m.d.comb += [
            self.next_state.top.eq(Mux(newer, seq, top)),
            self.next_state.bitmap.eq(cleared | (Const(1, self.blocks * BLOCK) << bit)),
        ]
        return m
