"""Multiplication in GF(2^128) as GCM defines it (NIST SP 800-38D §6.3).

Bit-order convention used throughout espline: a 128-bit block is the integer
``int.from_bytes(block16, "big")``, so the first byte of the block is the most significant
byte.  SP 800-38D numbers the bits of a block left to right, x_0 … x_127, and gives bit x_i
the polynomial coefficient of x^i (the *reflected* order of §6.3); bit x_i is therefore
integer bit ``127 - i``.  The field polynomial is x^128 + x^7 + x^2 + x + 1 (R = 11100001 ‖ 0^120).

The gateware helpers below first *reflect* their operands (reverse the wires; free in
hardware) so that integer bit i is the coefficient of x^i, multiply carry-less, reduce, and
reflect back.  ``gf128_mul_ref`` is a plain transcription of Algorithm 1 of §6.3 used only to
build test expectations; the tests check it (and the gateware) against ``cryptography``'s GCM.
"""

from amaranth.hdl import Module, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "R",
    "gf128_mul_ref",
    "ghash_ref",
    "reflect",
    "clmul",
    "poly_reduce",
    "gf128_mul",
    "horner_step",
    "GF128Mul",
]

#: R of SP 800-38D §6.3 in the block-integer convention.
R = 0xE1 << 120


# --- Pure-Python reference (test expectations only) ---------------------------------------------

def gf128_mul_ref(x, y):
    """X·Y per SP 800-38D §6.3 Algorithm 1; operands and result in the block-integer convention."""
    z, v = 0, y
    for i in range(128):
        if (x >> (127 - i)) & 1:  # bit x_i
            z ^= v
        v = (v >> 1) ^ R if v & 1 else v >> 1  # LSB(V) is bit v_127
    return z


def ghash_ref(h, blocks):
    """GHASH_H(X_1 … X_m) per SP 800-38D §6.4 Algorithm 2 (blocks as block-integers)."""
    y = 0
    for x in blocks:
        y = gf128_mul_ref(y ^ x, h)
    return y


# --- Gateware helpers (return Amaranth expressions) ----------------------------------------------

def reflect(value):
    """Reverse the bit order of ``value`` (block-integer convention ↔ polynomial order)."""
    return Value.cast(value)[::-1]


def _xor_tree(terms):
    # A balanced tree keeps expression depth logarithmic (for the simulator) and hints Yosys
    # towards a shallow XOR network.
    terms = list(terms)
    while len(terms) > 1:
        terms = [terms[i] ^ terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


def clmul(a, b):
    """Carry-less product of ``a`` and ``b`` in polynomial order (bit i is the coefficient of x^i).

    Width ``len(a) + len(b) - 1``: schoolbook, one AND row per bit of ``a``.
    """
    a, b = Value.cast(a), Value.cast(b)
    rows = [(b & a[i].replicate(len(b))) << i for i in range(len(a))]
    return _xor_tree(rows)[:len(a) + len(b) - 1]


def poly_reduce(p):
    """Reduce a polynomial-order value modulo x^128 + x^7 + x^2 + x + 1 (result: 128 bits).

    x^128 ≡ x^7 + x^2 + x + 1, so the part above bit 127 is folded back as hi·(1 + x + x^2 + x^7);
    two folds suffice for any product of two 128-bit operands.
    """
    p = Value.cast(p)
    width = len(p)
    while width > 128:
        lo, hi = p[:128], p[128:width]
        p = lo ^ hi ^ (hi << 1) ^ (hi << 2) ^ (hi << 7)
        width = max(128, len(hi) + 7)
        p = p[:width]
    return p[:128]


def gf128_mul(x, y):
    """X·Y in GF(2^128), operands and result in the block-integer convention (combinational)."""
    return reflect(poly_reduce(clmul(reflect(x), reflect(y))))


def horner_step(z, d, h):
    """One digit-serial step in polynomial order: (z·x^D + d·h) mod P, D = ``len(d)``.

    Processing the digits of X from the highest-degree coefficients down gives X·H after
    128/D steps starting from z = 0 (Horner's rule).  The D-bit overflow of z·x^D and the
    (D-1)-bit overflow of d·h share one fold, so the step costs D·128 ANDs plus a short
    XOR tree.
    """
    z, d, h = Value.cast(z), Value.cast(d), Value.cast(h)
    assert len(z) == 128 and len(h) == 128 and 1 <= len(d) <= 120
    t = (z << len(d)) ^ clmul(d, h)  # 128 + D bits
    return poly_reduce(t[:128 + len(d)])


# --- Component -----------------------------------------------------------------------------------

class GF128Mul(wiring.Component):
    """Combinational X·Y in GF(2^128) (SP 800-38D §6.3), block-integer convention.

    Schoolbook carry-less multiply (128 AND rows, balanced XOR trees) and a two-fold
    reduction; see the module docstring for the bit order.
    """

    x: In(128)
    y: In(128)
    z: Out(128)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.z.eq(gf128_mul(self.x, self.y))
        return m

