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

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = [
    "R",
    "gf128_mul_ref",
    "ghash_ref",
    "reflect",
    "clmul",
    "clmul_karatsuba",
    "karatsuba_split",
    "karatsuba_join",
    "poly_reduce",
    "gf128_square",
    "gf128_mul",
    "fold",
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


# --- Gateware helpers (add logic to a Module, return Signals) -------------------------------------
#
# Every intermediate result is a named Signal: Amaranth walks expressions as trees, so sharing a
# large sub-expression (the reduction uses the high half four times) without a Signal in between
# multiplies elaboration and simulation cost.

def reflect(value):
    """Reverse the bit order of ``value`` (block-integer convention <-> polynomial order)."""
    return Value.cast(value)[::-1]


def _xor_tree(terms):
    # A balanced tree keeps expression depth logarithmic (for the simulator) and hints Yosys
    # towards a shallow XOR network.
    terms = list(terms)
    while len(terms) > 1:
        terms = [terms[i] ^ terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]


def _as_signal(m, value, name):
    # Rows index single bits of the operands: make them Signals so that a reflected operand
    # (a concatenation) is evaluated once, not once per row.
    value = Value.cast(value)
    if isinstance(value, Signal):
        return value
    sig = Signal(len(value), name=name)
    m.d.comb += sig.eq(value)
    return sig


def clmul(m, a, b, *, name="clmul"):
    """Carry-less product of ``a`` and ``b`` in polynomial order (bit i is the coefficient of x^i).

    Returns a Signal of width ``len(a) + len(b) - 1``: schoolbook, one AND row per bit of ``a``.
    """
    a, b = _as_signal(m, a, f"{name}_a"), _as_signal(m, b, f"{name}_b")
    p = Signal(len(a) + len(b) - 1, name=name)
    m.d.comb += p.eq(_xor_tree(Mux(a[i], b, 0) << i for i in range(len(a))))
    return p


def karatsuba_split(a, levels):
    """The 3^``levels`` operands of the sub-products of :func:`clmul_karatsuba` (linear in ``a``:
    the split of a sum is the sum of the splits, so it can be applied to registered values)."""
    a = Value.cast(a)
    if levels == 0:
        return [a]
    k = len(a) // 2
    return (karatsuba_split(a[:k], levels - 1) + karatsuba_split(a[k:], levels - 1)
            + karatsuba_split(a[:k] ^ a[k:], levels - 1))


def karatsuba_join(m, products, levels, *, name="kara"):
    """Recombine the sub-products of :func:`karatsuba_split` operands into the full product."""
    if levels == 0:
        return products[0]
    t = len(products) // 3
    lo, hi, mid = (karatsuba_join(m, products[j * t:(j + 1) * t], levels - 1, name=f"{name}_{j}")
                   for j in range(3))
    k = (len(lo) + 1) // 2
    p = Signal(2 * len(lo) + 1, name=name)
    m.d.comb += p.eq(lo ^ ((lo ^ hi ^ mid) << k) ^ (hi << 2 * k))
    return p


def clmul_karatsuba(m, a, b, levels, *, name="kara"):
    """:func:`clmul` of two equal-width operands by ``levels`` levels of Karatsuba recursion.

    Karatsuba–Ofman (1962) for carry-less products: with a = a1·x^k + a0 and b = b1·x^k + b0,
    a·b = a1b1·x^2k + ((a0⊕a1)(b0⊕b1) ⊕ a0b0 ⊕ a1b1)·x^k + a0b0, three half-size products
    instead of four.  ``levels`` levels leave 3^levels schoolbook products of width/2^levels
    bits (128 bits, 2 levels: 9 × 32×32, 9216 ANDs against 16384, each operand bit feeding
    ~32 ANDs instead of 128).  A pipelined multiplier calls the three steps itself, with
    registers in between: :func:`karatsuba_split`, :func:`clmul` per sub-product,
    :func:`karatsuba_join`.
    """
    assert len(a) == len(b) and len(a) % (1 << levels) == 0
    pairs = zip(karatsuba_split(a, levels), karatsuba_split(b, levels), strict=True)
    products = [clmul(m, x, y, name=f"{name}_p{j}") for j, (x, y) in enumerate(pairs)]
    return karatsuba_join(m, products, levels, name=name)


def fold(hi):
    """``hi``·x^128 mod P = hi·(x^7 + x^2 + x + 1), for ``hi`` of at most 121 bits (no new overflow)."""
    return hi ^ (hi << 1) ^ (hi << 2) ^ (hi << 7)


def poly_reduce(m, p, *, name="reduce"):
    """Reduce a polynomial-order value modulo x^128 + x^7 + x^2 + x + 1 (returns a 128-bit Signal).

    x^128 = x^7 + x^2 + x + 1, so the part above bit 127 is folded back as hi*(1 + x + x^2 + x^7);
    two folds suffice for any product of two 128-bit operands.
    """
    p = Value.cast(p)
    n = 0
    while len(p) > 128:
        hi = Signal(len(p) - 128, name=f"{name}_hi{n}")
        m.d.comb += hi.eq(p[128:])
        q = Signal(max(128, len(hi) + 7), name=f"{name}_f{n}")
        m.d.comb += q.eq(p[:128] ^ fold(hi))
        p, n = q, n + 1
    if isinstance(p, Signal) and len(p) == 128:
        return p
    r = Signal(128, name=name)
    m.d.comb += r.eq(p)
    return r


def gf128_mul(m, x, y, *, name="gfmul"):
    """X*Y in GF(2^128), operands and result in the block-integer convention (combinational)."""
    xr, yr = Signal(128, name=f"{name}_xr"), Signal(128, name=f"{name}_yr")
    m.d.comb += [xr.eq(reflect(x)), yr.eq(reflect(y))]
    pr = poly_reduce(m, clmul(m, xr, yr, name=f"{name}_clmul"), name=f"{name}_red")
    z = Signal(128, name=name)
    m.d.comb += z.eq(reflect(pr))
    return z


def gf128_square(m, x, *, name="gfsq"):
    """X^2 in GF(2^128), block-integer convention. Squaring is linear over GF(2) (the product
    bits spread to even positions, then the reduction), so this is an XOR network only."""
    xr = _as_signal(m, reflect(x), f"{name}_xr")
    spread = Signal(255, name=f"{name}_spread")
    m.d.comb += spread.eq(Cat(*(Cat(xr[i], Const(0, 1)) for i in range(128)))[:255])
    z = Signal(128, name=name)
    m.d.comb += z.eq(reflect(poly_reduce(m, spread, name=f"{name}_red")))
    return z


def horner_step(m, z, o, d, h, *, name="horner"):
    """One digit-serial Horner step with lazy reduction, polynomial order, D = ``len(d)``.

    The state is V = z + o·x^128: ``z`` 128 bits and ``o`` the D-bit overflow, not yet
    reduced. Returns (z', o') with z' + o'·x^128 = V·x^D + d·h (mod P). ``o`` is folded into
    the few low bits of z (:func:`fold`) before the shift, so every bit of z' is one XOR tree
    of D AND terms, a bit of z and at most four bits of o; the new overflow waits for the
    next step. Processing the digits of X from the highest-degree ones down, 128/D steps from
    V = 0 give X·H; ``z ^ fold(o)`` is then the reduced product.
    """
    z, o, d, h = Value.cast(z), Value.cast(o), Value.cast(d), Value.cast(h)
    assert len(z) == 128 and len(h) == 128 and len(o) == len(d) and 1 <= len(d) <= 120
    t = Signal(128 + len(d), name=f"{name}_t")
    m.d.comb += t.eq(((z ^ fold(o)) << len(d)) ^ clmul(m, d, h, name=f"{name}_clmul"))
    return t[:128], t[128:]


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
        m.d.comb += self.z.eq(gf128_mul(m, self.x, self.y))
        return m

