"""One AES encryption round after SubBytes (FIPS-197 §5.1.2–§5.1.4), shared by both cores.

Byte convention: a 128-bit block is ``int.from_bytes(block16, "big")``, i.e. input byte 0
(state s[0,0]) is the most significant byte; byte n is s[n mod 4, n // 4] (§3.4).
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .aes_key_schedule import key_step, words
from .sbox import sbox_lookups

__all__ = ["SBOX_ADDRS", "AESCore", "block_bytes", "mix", "mix_column", "shift_rows", "substitute"]

#: S-box lookups per round: 16 state bytes + 4 bytes of SubWord for the key schedule.
SBOX_ADDRS = 20


def block_bytes(v):
    """Bytes of a 128-bit value, index 0 = most significant = first byte."""
    return [v[120 - 8 * i: 128 - 8 * i] for i in range(16)]


def _rotl(word, n):
    """A 32-bit column rotated towards the top row by ``n`` bytes: row r gets row r + n."""
    return Cat(word[32 - 8 * n:], word[:32 - 8 * n])


def _xtime(word):
    """Multiplication by {02} (§4.2.1) of each byte of a 32-bit column at once: the carried-out
    bit of a byte selects {1b} = x^4 + x^3 + x + 1, written as shifted copies of it (no carries
    between bytes), so that simulators evaluate one 32-bit expression instead of four."""
    carry = word & 0x80808080
    return (Cat(0, word[:31]) & 0xFEFEFEFE) ^ (carry >> 7) ^ (carry >> 6) ^ (carry >> 4) ^ (carry >> 3)


def shift_rows(columns):
    """§5.1.2 on four 32-bit columns (row 0 most significant): row r rotated left by r,
    s'[r, c] = s[r, (c + r) mod 4]."""
    return [Cat(*(columns[(c + 3 - k) % 4][8 * k: 8 * k + 8] for k in range(4))) for c in range(4)]


def mix_column(a):
    """§5.1.3 on one 32-bit column: s'_r = {02}s_r ^ {03}s_(r+1) ^ s_(r+2) ^ s_(r+3)
    = xtime(s_r ^ s_(r+1)) ^ s_(r+1) ^ s_(r+2) ^ s_(r+3)."""
    a1 = _rotl(a, 1)
    return _xtime(a ^ a1) ^ a1 ^ _rotl(a, 2) ^ _rotl(a, 3)


def substitute(m, name, state, q, sbox):
    """Stages S and R of a round: the 20 S-box lookups (SubBytes of ``state``, SubWord of the
    key window's ``q[3]``), registered in the S-box ROM (S) and again in flip-flops (R), so a
    block-RAM read's slow clock-to-out has a cycle of its own.

    Returns ``(sub_bytes, sub_word)``: four 32-bit columns (:func:`.aes_key_schedule.words`
    order, column 0 first) and 32 bits, two cycles after ``state``/``q``.
    """
    q3 = words(q)[3]
    looked = sbox_lookups(m, f"{name}_sbox", block_bytes(state) + [q3[24:32], q3[16:24], q3[8:16], q3[0:8]],
                          Const(1), sbox)
    sub_bytes = [Signal(32, name=f"{name}_sub_bytes{c}") for c in range(4)]
    sub_word = Signal(32, name=f"{name}_sub_word")
    m.d.sync += [col.eq(Cat(*reversed(looked[4 * c: 4 * c + 4]))) for c, col in enumerate(sub_bytes)]
    m.d.sync += sub_word.eq(Cat(*reversed(looked[16:])))
    return sub_bytes, sub_word


def mix(m, name, sub_bytes, sub_word, p, q, aes256, rot, rcon, final):
    """Stage M of a round: ShiftRows, MixColumns (skipped when ``final``) and the round key
    (:func:`.aes_key_schedule.key_step`), registered, column by column.

    Returns ``(mixed, round_key, k_new)``, 128 bits each: the round's output is
    ``mixed ^ round_key`` (AddRoundKey, §5.1.4, left to the consumer: it is the one XOR before
    the next S-box address), and ``k_new`` (combinational) completes the next key window
    ``(q, k_new)``.
    """
    k_new = key_step(m, sub_word, p, q, aes256, rot, rcon, name=f"{name}_k_new")
    mixed = [Signal(32, name=f"{name}_mixed{c}") for c in range(4)]
    round_key = Signal(128, name=f"{name}_round_key")
    m.d.sync += [col.eq(Mux(final, shifted, mix_column(shifted)))
                 for col, shifted in zip(mixed, shift_rows(sub_bytes), strict=True)]
    m.d.sync += round_key.eq(Mux(aes256, q, k_new))
    return Cat(*reversed(mixed)), round_key, k_new


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
