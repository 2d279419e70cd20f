"""AES key expansion, one round key per step (FIPS-197 §5.2), shared by both AES cores.

Keys are expanded on the fly next to the data: every block carries a 256-bit *key window*
``(p, q)`` of two 128-bit round keys, so no round-key RAM exists and every block may use a
different key (AES-128 or AES-256) with no bubble.

Window convention for round r (1-based):

* AES-128: ``q`` = K[r-1]; the round key K[r] = step(q) is computed in round r.
* AES-256: ``(p, q)`` = (K[r-1], K[r]); the round key is ``q`` and round r computes K[r+1].

Either way the new window is ``(q, k_new)`` and the one S-box-heavy input is
SubWord(q[3]) (RotWord commutes with SubWord, so the lookup is always of q[3] unrotated
and the rotation is applied to the looked-up word; §5.2, Figures 11 and 12).
"""

from amaranth.hdl import Cat, Const, Mux, Signal

__all__ = ["RCON", "key_step", "key_step_params", "words"]

#: Round constants Rcon[i] (first byte of the word), FIPS-197 §5.2, i = 1..10.
RCON = (None, 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36)


def words(v):
    """Split a 128-bit value into four 32-bit words, w[0] most significant (first bytes)."""
    return [v[96 - 32 * i: 128 - 32 * i] for i in range(4)]


def key_step_params(rnd, aes256):
    """Static (rot, rcon) of ``key_step`` for round ``rnd`` (Python ints, for unrolled stages)."""
    if not aes256:
        return True, RCON[rnd] if rnd <= 10 else 0
    nxt = rnd + 1  # round key being computed; words 4*nxt.., i mod Nk = 0 or 4
    if nxt % 2 == 0:
        return True, RCON[nxt // 2] if nxt // 2 <= 10 else 0
    return False, 0


def key_step(m, sub_q3, p, q, aes256, rot, rcon, name="k_new"):
    """Next round key from the key window; ``sub_q3`` is SubWord(q[3]) (4 looked-up bytes).

    ``aes256``/``rot`` are 1-bit values, ``rcon`` an 8-bit value (constants or signals).
    Returns a Signal (driven in ``m``) with the new 128-bit round key k_new (the new window
    is ``(q, k_new)``). Intermediates are named signals so that expression trees are not
    duplicated at every use.
    """
    # sub_q3 = (b0, b1, b2, b3) as one 32-bit value, b0 most significant.
    rotated = Cat(sub_q3[24:32], sub_q3[0:24])          # RotWord: (b1, b2, b3, b0)
    t = Signal(32, name=f"{name}_t")
    base = Signal(128, name=f"{name}_base")
    w = [Signal(32, name=f"{name}_w{i}") for i in range(4)]
    k_new = Signal(128, name=name)
    m.d.comb += [
        t.eq(Mux(rot, rotated, sub_q3) ^ Cat(Const(0, 24), rcon)),
        base.eq(Mux(aes256, p, q)),
        w[0].eq(words(base)[0] ^ t),
        w[1].eq(words(base)[1] ^ w[0]),
        w[2].eq(words(base)[2] ^ w[1]),
        w[3].eq(words(base)[3] ^ w[2]),
        k_new.eq(Cat(w[3], w[2], w[1], w[0])),
    ]
    return k_new
