"""Iterative AES-128/AES-256 encryption core: one round per cycle (FIPS-197 §5.1, §5.2).

One block in flight. The 20 S-box lookups of a round (16 state bytes + SubWord of the key
schedule) are registered in the S-box ROM, whose read register is the round register; round
keys are expanded on the fly from the key given with the block (:mod:`.aes_key_schedule`),
so every block may carry a different key. The next block is loaded in the cycle the last
round completes: Nr cycles per block sustained (10 for AES-128, 14 for AES-256, i.e. 12.8
and 9.1 bit/cycle), latency Nr + 1 cycles to the output register.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal

from .aes_key_schedule import key_step, key_step_params, words
from .aes_round import AESCore, block_bytes, round_tail
from .sbox import sbox_lookups

__all__ = ["AESCompact"]


class AESCompact(AESCore):
    """Nr cycles per block, one block in flight (interface: :class:`.aes_round.AESCore`)."""

    def elaborate(self, platform):
        m = Module()
        ip = self.i.payload

        busy = Signal()
        rnd = Signal(range(16))
        p = Signal(128)
        q = Signal(128)
        aes256 = Signal()
        user = Signal.like(ip.user)

        last_round = Signal()
        out_free = Signal()
        load = Signal()
        m.d.comb += [
            last_round.eq(busy & (rnd == Mux(aes256, 14, 10))),
            out_free.eq(~self.o.valid | self.o.ready),
            self.i.ready.eq(~busy | (last_round & out_free)),
            load.eq(self.i.valid & self.i.ready),
        ]

        # Round logic on the registered S-box outputs.
        def params(aes):
            return [key_step_params(r, aes) if r else (False, 0) for r in range(16)]
        rot = Mux(aes256, Array(Const(int(x)) for x, _ in params(True))[rnd],
                  Array(Const(int(x)) for x, _ in params(False))[rnd])
        rcon = Mux(aes256, Array(Const(c, 8) for _, c in params(True))[rnd],
                   Array(Const(c, 8) for _, c in params(False))[rnd])
        addrs = [Signal(8, name=f"addr{n}") for n in range(20)]
        looked = sbox_lookups(m, "sbox", addrs, load | (busy & ~last_round), self._sbox)
        k_new = key_step(m, Cat(*reversed(looked[16:])), p, q, aes256, rot, rcon)
        rk = Signal(128)
        m.d.comb += rk.eq(Mux(aes256, q, k_new))
        s_next = round_tail(m, looked[:16], rk, last_round)

        key_hi, key_lo = ip.key[128:], ip.key[:128]
        q_in, state, q_addr = Signal(128), Signal(128), Signal(128)
        m.d.comb += [q_in.eq(Mux(ip.aes256, key_lo, key_hi)),
                     state.eq(Mux(load, ip.block ^ key_hi, s_next)),
                     q_addr.eq(Mux(load, q_in, k_new))]
        q3 = words(q_addr)[3]
        for a, v in zip(addrs, block_bytes(state) + [q3[24:32], q3[16:24], q3[8:16], q3[0:8]],
                        strict=True):
            m.d.comb += a.eq(v)

        with m.If(self.o.ready):
            m.d.sync += self.o.valid.eq(0)
        with m.If(last_round & out_free):
            m.d.sync += [self.o.valid.eq(1), self.o.payload.block.eq(s_next),
                         self.o.payload.user.eq(user), busy.eq(0)]
        with m.If(load):
            m.d.sync += [busy.eq(1), rnd.eq(1), p.eq(key_hi), q.eq(q_in),
                         aes256.eq(ip.aes256), user.eq(ip.user)]
        with m.Elif(busy & ~last_round):
            m.d.sync += [rnd.eq(rnd + 1), p.eq(q), q.eq(k_new)]
        return m
