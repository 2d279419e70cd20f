"""One AES encryption round after SubBytes (FIPS-197 §5.1.2–§5.1.4), shared by both cores.

Byte convention: a 128-bit block is ``int.from_bytes(block16, "big")``, i.e. input byte 0
(state s[0,0]) is the most significant byte; byte n is s[n mod 4, n // 4] (§3.4).
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .aes_key_schedule import key_step, words
from .sbox import sbox_lookups

__all__ = ["SBOX_ADDRS", "AESCore", "block_bytes", "from_bytes", "mix", "mix_columns", "shift_rows",
           "substitute"]

#: S-box lookups per round: 16 state bytes + 4 bytes of SubWord for the key schedule.
SBOX_ADDRS = 20


def block_bytes(v):
    """Bytes of a 128-bit value, index 0 = most significant = first byte."""
    return [v[120 - 8 * i: 128 - 8 * i] for i in range(16)]


def from_bytes(bs):
    """Inverse of :func:`block_bytes`."""
    return Cat(*reversed(bs))


def _xtime(a):
    return Cat(0, a[:7]) ^ (a[7].replicate(8) & 0x1B)


def shift_rows(bs):
    """§5.1.2: row r rotated left by r: s'[r, c] = s[r, (c + r) mod 4]."""
    return [bs[4 * ((n // 4 + n % 4) % 4) + n % 4] for n in range(16)]


def mix_columns(bs):
    """§5.1.3: each column multiplied by {03}x^3 + {01}x^2 + {01}x + {02}."""
    out = []
    for c in range(4):
        a = bs[4 * c: 4 * c + 4]
        x = [_xtime(v) for v in a]
        out += [
            x[0] ^ x[1] ^ a[1] ^ a[2] ^ a[3],
            a[0] ^ x[1] ^ x[2] ^ a[2] ^ a[3],
            a[0] ^ a[1] ^ x[2] ^ x[3] ^ a[3],
            x[0] ^ a[0] ^ a[1] ^ a[2] ^ x[3],
        ]
    return out


def substitute(m, name, state, q, sbox):
    """Stages S and R of a round: the 20 S-box lookups (SubBytes of ``state``, SubWord of the
    key window's ``q[3]``), registered in the S-box ROM (S) and again in flip-flops (R), so a
    block-RAM read's slow clock-to-out has a cycle of its own.

    Returns ``(sub_bytes, sub_word)``, 128 and 32 bits, two cycles after ``state``/``q``.
    """
    q3 = words(q)[3]
    looked = sbox_lookups(m, f"{name}_sbox", block_bytes(state) + [q3[24:32], q3[16:24], q3[8:16], q3[0:8]],
                          Const(1), sbox)
    sub_bytes, sub_word = Signal(128, name=f"{name}_sub_bytes"), Signal(32, name=f"{name}_sub_word")
    m.d.sync += [sub_bytes.eq(from_bytes(looked[:16])), sub_word.eq(Cat(*reversed(looked[16:])))]
    return sub_bytes, sub_word


def mix(m, name, sub_bytes, sub_word, p, q, aes256, rot, rcon, final):
    """Stage M of a round: ShiftRows, MixColumns (skipped when ``final``) and the round key
    (:func:`.aes_key_schedule.key_step`), registered.

    Returns ``(mixed, round_key, k_new)``: the round's output is ``mixed ^ round_key``
    (AddRoundKey, §5.1.4, left to the consumer: it is the one XOR before the next S-box
    address), and ``k_new`` (combinational) completes the next key window ``(q, k_new)``.
    """
    k_new = key_step(m, sub_word, p, q, aes256, rot, rcon, name=f"{name}_k_new")
    shifted = shift_rows(block_bytes(sub_bytes))
    mixed, round_key = Signal(128, name=f"{name}_mixed"), Signal(128, name=f"{name}_round_key")
    m.d.sync += [mixed.eq(Mux(final, from_bytes(shifted), from_bytes(mix_columns(shifted)))),
                 round_key.eq(Mux(aes256, q, k_new))]
    return mixed, round_key, k_new


class AESCore(wiring.Component):
    """The interface both AES cores share: ``i``: {block, key, aes256, user} → ``o``: {block =
    AES_key(block), user}, in order.

    ``block``/``key`` are big-endian integers (first byte most significant); an AES-128 key
    occupies the top 128 bits of ``key``. ``user`` is carried alongside the block unchanged.
    ``sbox`` chooses the S-box mapping (:mod:`.sbox`).
    """

    def __init__(self, user=1, *, sbox="bram"):
        self._sbox = sbox
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({"block": 128, "key": 256, "aes256": 1, "user": user}))),
            "o": Out(stream.Signature(data.StructLayout({"block": 128, "user": user}))),
        })

    def credited_output(self, m, credits, leave, block):
        """The output side both cores share. A finished block (``block`` when ``leave``) is
        written into a FIFO of ``credits`` places; ``user`` waits in a FIFO of its own from the
        input on (blocks leave in order, so it need not ride the rounds). A block enters only
        with a place reserved, so the rounds never stall: no enable fans out to them, and
        ``o.ready`` backpressure stops the input instead.

        Returns ``room``, a flip-flop: fewer than ``credits - 1`` blocks were held (entered, not
        yet taken) the cycle before, so a block may enter now. The caller drives ``i.ready``.
        """
        held = Signal(range(credits + 1))
        room = Signal(init=1)
        # out is unbuffered: read data comes straight from the (distributed) RAM, so a read moves
        # a pointer only, no wide output register whose enable would hang on the consumer.
        m.submodules.out = out = fifo.SyncFIFO(width=128, depth=credits)
        # users is buffered: written when the block enters, it has its head read out long
        # before the block leaves, so ``o.payload.user`` (which the consumer decodes to route
        # the block) comes from a read register, not an asynchronous RAM read. At 6 places that
        # is a fabric register; at 45 (wide) Yosys maps it to block RAM, whose slow output
        # register is the wide engine's critical path start (docs/synth.md).
        m.submodules.users = users = fifo.SyncFIFOBuffered(width=len(Value.cast(self.i.payload.user)),
                                                           depth=credits)
        enter = self.i.valid & self.i.ready
        taken = self.o.valid & self.o.ready
        m.d.sync += [held.eq(held + enter - taken), room.eq(held < credits - 1)]
        m.d.comb += [out.w_en.eq(leave), out.w_data.eq(block),
                     users.w_en.eq(enter), users.w_data.eq(self.i.payload.user),
                     self.o.valid.eq(out.r_rdy), out.r_en.eq(self.o.ready), users.r_en.eq(taken),
                     self.o.payload.block.eq(out.r_data), self.o.payload.user.eq(users.r_data)]
        return room
