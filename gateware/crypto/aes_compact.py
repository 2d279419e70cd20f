"""Iterative AES-128/AES-256 encryption core: one round per cycle (FIPS-197 §5.1, §5.2).

A round is cut into three register stages, and three blocks take turns in them (a ring):

* **S**: the 20 S-box lookups (16 state bytes + SubWord of the key schedule), registered in the
  S-box ROM (:mod:`.sbox`; on ECP5 a block-RAM read, whose slow clock-to-out gets a cycle of
  its own);
* **R**: a plain register on the S-box outputs;
* **M**: ShiftRows/MixColumns and the key step (:mod:`.aes_key_schedule`) registered; their
  AddRoundKey XOR then feeds the S-box addresses of the block's next round in S.

So every cycle does one round of one of the three blocks, and each register-to-register path
holds at most a block-RAM read or about three LUT levels. Round keys are expanded on the fly
from the key given with the block, so every block may carry a different key.

Throughput: a ring slot is refilled in the cycle its block leaves after round Nr, so three
blocks take 3·Nr cycles: Nr cycles per block sustained (10 for AES-128, 14 for AES-256, i.e.
12.8 and 9.1 bit/cycle), accepted in bursts of up to three. Blocks leave in order: an
AES-128 block waits while an AES-256 block of the ring is before its round 5 (it would be
overtaken). Finished
blocks wait in a 6-entry output FIFO; a block enters only with a place reserved in it, so the
ring never stalls (no enable fans out to it) and ``o.ready`` backpressure stops the input.
Latency: 3·Nr + 1 cycles from input to output (3·Nr ring cycles, the FIFO write).
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal

from .aes_key_schedule import key_step_params
from .aes_round import AESCore, mix, substitute

__all__ = ["AESCompact"]

#: Blocks that may be in the ring or the output FIFO at once.
_CREDITS = 6


class AESCompact(AESCore):
    """Nr cycles per block, three blocks in flight (interface: :class:`.aes_round.AESCore`)."""

    def elaborate(self, platform):
        m = Module()
        ip = self.i.payload

        def stage(name):
            """The registers that travel with a block through one ring stage."""
            return dict(valid=Signal(name=f"{name}_valid"), rnd=Signal(range(16), name=f"{name}_rnd"),
                        p=Signal(128, name=f"{name}_p"), q=Signal(128, name=f"{name}_q"),
                        aes256=Signal(name=f"{name}_aes256"))

        def follow(dst, src, **override):
            m.d.sync += [dst[k].eq(override.get(k, src[k])) for k in dst]

        key_hi, key_lo = ip.key[128:], ip.key[:128]
        entering = dict(valid=Const(1), rnd=Const(1), p=key_hi, q=Mux(ip.aes256, key_lo, key_hi),
                        aes256=ip.aes256)
        s, r, mm = stage("s"), stage("r"), stage("m")
        recirculate, leave = Signal(), Signal()   # M holds a block before / after its last round
        m_out = Signal(128)                       # M's block after AddRoundKey
        room = self.credited_output(m, _CREDITS, leave, m_out)
        # i.ready is one LUT of flip-flops, each decided a cycle ahead:
        # * room: fewer than _CREDITS - 1 held last cycle, so fewer than _CREDITS now;
        # * early256: an AES-256 block that an AES-128 block entering now would overtake. That
        #   block leaves 29 cycles after the next; an AES-256 block leaves before that iff it
        #   has reached round 5 (in S and R) or completed it (in M). Computed from where the
        #   blocks will be: S <- M (round + 1) or the entering block, R <- S, M <- R. Whether
        #   a block enters is not waited for: an offered AES-256 block counts (at worst an
        #   AES-128 block waits a cycle more at a key-size change).
        early256 = Signal()
        m.d.sync += [
            early256.eq(Mux(recirculate, mm["aes256"] & (mm["rnd"] < 4), ip.aes256)
                        | (s["valid"] & s["aes256"] & (s["rnd"] < 5)) | (r["valid"] & r["aes256"] & (r["rnd"] < 5))),
        ]
        m.d.comb += self.i.ready.eq(~recirculate & room & (ip.aes256 | ~early256))
        enter = self.i.valid & self.i.ready

        # S: the lookups of the entering block's round 1 (after the round-0 AddRoundKey), or of
        # the recirculating block's next round; R: their outputs. Both load every cycle.
        sub_bytes, sub_word = substitute(m, "ring", Mux(recirculate, m_out, ip.block ^ key_hi),
                                         Mux(recirculate, mm["q"], entering["q"]), self._sbox)
        with m.If(recirculate):
            follow(s, mm, rnd=mm["rnd"] + 1)
        with m.Else():
            follow(s, entering, valid=enter)
        follow(r, s)

        # M: MixColumns (not in the final round) and the round key, registered.
        def params(aes):
            return [key_step_params(n, aes) if n else (False, 0) for n in range(16)]
        rot = Mux(r["aes256"], Array(Const(int(x)) for x, _ in params(True))[r["rnd"]],
                  Array(Const(int(x)) for x, _ in params(False))[r["rnd"]])
        rcon = Mux(r["aes256"], Array(Const(c, 8) for _, c in params(True))[r["rnd"]],
                   Array(Const(c, 8) for _, c in params(False))[r["rnd"]])
        final = r["rnd"] == Mux(r["aes256"], 14, 10)
        mixed, round_key, k_new = mix(m, "ring", sub_bytes, sub_word, r["p"], r["q"], r["aes256"], rot, rcon, final)
        m.d.comb += m_out.eq(mixed ^ round_key)
        m.d.sync += [recirculate.eq(r["valid"] & ~final), leave.eq(r["valid"] & final)]
        follow(mm, r, p=r["q"], q=k_new)
        return m
