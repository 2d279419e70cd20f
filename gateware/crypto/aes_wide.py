"""Fully pipelined AES-128/AES-256 encryption core: one block per cycle (FIPS-197 §5.1, §5.2).

14 round stages, unrolled. Each stage registers the S-box lookups of its input (the S-box ROM
read register *is* the pipeline register, see :mod:`.sbox`) and, next to them, the key
window of :mod:`.aes_key_schedule`, so the key travels with the block: consecutive blocks may
use different keys and key sizes with no bubble. AES-128 blocks finish in stage 10 and ride
through stages 11–14 in a bypass register, so the latency is fixed at 15 cycles for both key
sizes and blocks never reorder.

Flow control: a global stall. The pipeline advances when its output register is empty or
being read (``adv = ~o.valid | o.ready``) and ``i.ready = adv``.
"""

from amaranth.hdl import Cat, Module, Mux, Signal

from .aes_key_schedule import key_step, key_step_params, words
from .aes_round import AESCore, block_bytes, round_tail
from .sbox import sbox_lookups

__all__ = ["AESWide"]


class AESWide(AESCore):
    """Latency 15 cycles, throughput 1 block/cycle (interface: :class:`.aes_round.AESCore`)."""

    LATENCY = 15

    def elaborate(self, platform):
        m = Module()
        adv = Signal()
        m.d.comb += [adv.eq(~self.o.valid | self.o.ready), self.i.ready.eq(adv)]

        def boundary(k, state, p, q, aes256, user, valid):
            """Registers after round k (k = 0: initial AddRoundKey)."""
            q3 = words(q)[3]
            addrs = block_bytes(state) + [q3[24:32], q3[16:24], q3[8:16], q3[0:8]]
            looked = sbox_lookups(m, f"sbox{k}", addrs, adv, self._sbox)
            regs = dict(p=Signal(128, name=f"p{k}"), q=Signal(128, name=f"q{k}"),
                        aes256=Signal(name=f"aes256_{k}"), valid=Signal(name=f"valid{k}"),
                        user=Signal.like(self.i.payload.user, name=f"user{k}"))
            with m.If(adv):
                m.d.sync += [regs["p"].eq(p), regs["q"].eq(q), regs["aes256"].eq(aes256),
                             regs["user"].eq(user), regs["valid"].eq(valid)]
            regs["sb"] = looked[:16]
            regs["sw"] = Cat(*reversed(looked[16:]))
            return regs

        ip = self.i.payload
        key_hi, key_lo = ip.key[128:], ip.key[:128]
        s0, q0 = Signal(128), Signal(128)
        m.d.comb += [s0.eq(ip.block ^ key_hi), q0.eq(Mux(ip.aes256, key_lo, key_hi))]
        prev = boundary(0, s0, key_hi, q0, ip.aes256, ip.user, self.i.valid)
        done = None
        for r in range(1, 15):
            rot128, rcon128 = key_step_params(r, False)
            rot256, rcon256 = key_step_params(r, True)
            a256 = prev["aes256"]
            k_new = key_step(m, prev["sw"], prev["p"], prev["q"], a256,
                             Mux(a256, rot256, rot128), Mux(a256, rcon256, rcon128), name=f"k{r}")
            rk = Signal(128, name=f"rk{r}")
            m.d.comb += rk.eq(Mux(a256, prev["q"], k_new))
            final = a256 if r == 14 else ~a256 if r == 10 else 0
            s_next = round_tail(m, prev["sb"], rk, final, name=f"s{r}")
            if r < 14:
                if r >= 10:
                    done_r = Signal(128, name=f"done{r}")
                    with m.If(adv):
                        m.d.sync += done_r.eq(s_next if r == 10 else done)
                    done = done_r
                prev = boundary(r, s_next, prev["q"], k_new, a256, prev["user"], prev["valid"])
            else:
                with m.If(adv):
                    m.d.sync += [self.o.valid.eq(prev["valid"]),
                                 self.o.payload.block.eq(Mux(a256, s_next, done)),
                                 self.o.payload.user.eq(prev["user"])]
        return m
