"""Fully pipelined AES-128/AES-256 encryption core: one block per cycle (FIPS-197 §5.1, §5.2).

The 14 rounds are unrolled, each cut into the three register stages of the compact core's
ring (:mod:`.aes_compact`): S (S-box ROM read), R (its outputs registered), M (MixColumns and
the key step registered; AddRoundKey feeds the next round's S-box addresses). Every
register-to-register path thus holds at most a block-RAM read or about three LUT levels.

The key window of :mod:`.aes_key_schedule` travels with the block, so consecutive blocks may
use different keys and key sizes with no bubble. An AES-128 block is done after round 10;
its result then rides through rounds 11–14 in the key-window register ``q`` (no longer
needed), so the latency is the same for both key sizes and blocks never reorder.

Flow control: none inside. The pipeline loads every cycle; a block enters only with a place
reserved in the output FIFO (:meth:`.aes_round.AESCore.credited_output`), so ``o.ready``
backpressure stops the input and no enable fans out to the ~20 k pipeline flip-flops.
Latency: 3 × 14 + 1 = 43 cycles (the last one the FIFO write).
"""

from amaranth.hdl import Module, Mux, Signal

from .aes_key_schedule import key_step_params
from .aes_round import AESCore, mix, substitute

__all__ = ["AESWide"]


class AESWide(AESCore):
    """Latency 43 cycles, throughput 1 block/cycle (interface: :class:`.aes_round.AESCore`)."""

    LATENCY = 43
    #: Blocks that may be in the pipeline or the output FIFO at once: enough for 1 block/cycle.
    CREDITS = LATENCY + 2

    def elaborate(self, platform):
        m = Module()
        leave, result = Signal(), Signal(128)
        m.d.comb += self.i.ready.eq(self.credited_output(m, self.CREDITS, leave, result))

        def registered(src, name, **override):
            """One pipeline stage of the block's companions (valid, aes256, key window)."""
            dst = {k: Signal.like(v, name=f"{name}_{k}") for k, v in src.items()}
            m.d.sync += [dst[k].eq(override.get(k, src[k])) for k in dst]
            return dst

        ip = self.i.payload
        key_hi, key_lo = ip.key[128:], ip.key[:128]
        block = dict(valid=self.i.valid & self.i.ready, aes256=ip.aes256,
                     p=key_hi, q=Mux(ip.aes256, key_lo, key_hi))
        state = ip.block ^ key_hi                       # round 0: AddRoundKey
        for r in range(1, 15):
            name = f"round{r}"
            if r == 11:   # an AES-128 block's result moves into q
                block["q"] = Mux(block["aes256"], block["q"], state)
            sub_bytes, sub_word = substitute(m, name, state, block["q"], self._sbox)
            rb = registered(registered(block, f"{name}_s"), f"{name}_r")
            a256 = rb["aes256"]
            (rot128, rcon128), (rot256, rcon256) = key_step_params(r, False), key_step_params(r, True)
            final = a256 if r == 14 else ~a256 if r == 10 else 0
            mixed, round_key, k_new = mix(m, name, sub_bytes, sub_word, rb["p"], rb["q"], a256,
                                          Mux(a256, rot256, rot128), Mux(a256, rcon256, rcon128), final)
            block = registered(rb, f"{name}_m", p=rb["q"], q=k_new if r <= 10 else Mux(a256, k_new, rb["q"]))
            state = Signal(128, name=f"{name}_out")
            m.d.comb += state.eq(mixed ^ round_key)
        m.d.comb += [leave.eq(block["valid"]), result.eq(Mux(block["aes256"], state, block["q"]))]
        return m
