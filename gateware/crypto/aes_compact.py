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

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import fifo

from .aes_key_schedule import key_step, key_step_params, words
from .aes_round import AESCore, block_bytes, from_bytes, mix_columns, shift_rows
from .sbox import sbox_lookups

__all__ = ["AESCompact"]

#: Blocks that may be in the ring or the output FIFO at once.
_CREDITS = 6


class AESCompact(AESCore):
    """Nr cycles per block, three blocks in flight (interface: :class:`.aes_round.AESCore`)."""

    def elaborate(self, platform):
        m = Module()
        ip = self.i.payload
        user_w = len(Value.cast(ip.user))

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
        m_mix, m_rk = Signal(128), Signal(128)
        recirculate, leave = Signal(), Signal()   # M holds a block before / after its last round

        # Credits: blocks in the ring or the output FIFO; one FIFO place per block.
        held = Signal(range(_CREDITS + 1))
        # unbuffered: its read data comes straight from the (distributed) RAM, so a read moves a
        # pointer only, no wide output register whose enable would hang on the consumer
        m.submodules.out = out = fifo.SyncFIFO(width=128, depth=_CREDITS)
        # ``user`` does not ride the ring: blocks leave in order, so it waits in a FIFO of its own
        m.submodules.users = users = fifo.SyncFIFO(width=user_w, depth=_CREDITS)
        # i.ready is one LUT of flip-flops, each decided a cycle ahead:
        # * room: fewer than _CREDITS - 1 held last cycle, so fewer than _CREDITS now;
        # * early256: an AES-256 block that an AES-128 block entering now would overtake. That
        #   block leaves 29 cycles after the next; an AES-256 block leaves before that iff it
        #   has reached round 5 (in S and R) or completed it (in M). Computed from where the
        #   blocks will be: S <- M (round + 1) or the entering block, R <- S, M <- R. Whether
        #   a block enters is not waited for: an offered AES-256 block counts (at worst an
        #   AES-128 block waits a cycle more at a key-size change).
        room, early256 = Signal(init=1), Signal()
        m.d.sync += [
            room.eq(held < _CREDITS - 1),
            early256.eq(Mux(recirculate, mm["aes256"] & (mm["rnd"] < 4), ip.aes256)
                        | (s["valid"] & s["aes256"] & (s["rnd"] < 5)) | (r["valid"] & r["aes256"] & (r["rnd"] < 5))),
        ]
        m.d.comb += self.i.ready.eq(~recirculate & room & (ip.aes256 | ~early256))
        enter = self.i.valid & self.i.ready
        taken = self.o.valid & self.o.ready
        m.d.sync += held.eq(held + enter - taken)

        # S: the lookups of the entering block's round 1 (after the round-0 AddRoundKey), or of
        # the recirculating block's next round. The S registers load every cycle (no enable).
        s_next = Signal(128)
        m.d.comb += s_next.eq(m_mix ^ m_rk)
        state = Mux(recirculate, s_next, ip.block ^ key_hi)
        window_q = Mux(recirculate, mm["q"], entering["q"])
        q3 = words(window_q)[3]
        looked = sbox_lookups(m, "sbox", block_bytes(state) + [q3[24:32], q3[16:24], q3[8:16], q3[0:8]],
                              Const(1), self._sbox)
        with m.If(recirculate):
            follow(s, mm, rnd=mm["rnd"] + 1)
        with m.Else():
            follow(s, entering, valid=enter)

        # R: the S-box outputs, registered.
        sub_bytes, sub_word = Signal(128), Signal(32)
        m.d.sync += [sub_bytes.eq(from_bytes(looked[:16])), sub_word.eq(Cat(*reversed(looked[16:])))]
        follow(r, s)

        # M: MixColumns (not in the final round) and the round key, registered.
        def params(aes):
            return [key_step_params(n, aes) if n else (False, 0) for n in range(16)]
        rot = Mux(r["aes256"], Array(Const(int(x)) for x, _ in params(True))[r["rnd"]],
                  Array(Const(int(x)) for x, _ in params(False))[r["rnd"]])
        rcon = Mux(r["aes256"], Array(Const(c, 8) for _, c in params(True))[r["rnd"]],
                   Array(Const(c, 8) for _, c in params(False))[r["rnd"]])
        k_new = key_step(m, sub_word, r["p"], r["q"], r["aes256"], rot, rcon)
        final = r["rnd"] == Mux(r["aes256"], 14, 10)
        shifted = shift_rows(block_bytes(sub_bytes))
        m.d.sync += [recirculate.eq(r["valid"] & ~final), leave.eq(r["valid"] & final),
                     m_mix.eq(Mux(final, from_bytes(shifted), from_bytes(mix_columns(shifted)))),
                     m_rk.eq(Mux(r["aes256"], r["q"], k_new))]
        follow(mm, r, p=r["q"], q=k_new)

        # Out: a block leaves after its last round into the FIFO it reserved a place in.
        m.d.comb += [out.w_en.eq(leave), out.w_data.eq(s_next), users.w_en.eq(enter), users.w_data.eq(ip.user),
                     self.o.valid.eq(out.r_rdy), out.r_en.eq(self.o.ready), users.r_en.eq(taken),
                     self.o.payload.block.eq(out.r_data), self.o.payload.user.eq(users.r_data)]
        return m
