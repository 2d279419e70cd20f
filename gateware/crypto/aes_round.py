"""One AES encryption round after SubBytes (FIPS-197 §5.1.2–§5.1.4), shared by both cores.

Byte convention: a 128-bit block is ``int.from_bytes(block16, "big")``, i.e. input byte 0
(state s[0,0]) is the most significant byte; byte n is s[n mod 4, n // 4] (§3.4).
"""

from amaranth.hdl import Cat, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SBOX_ADDRS", "AESCore", "block_bytes", "from_bytes", "mix_columns", "round_tail", "shift_rows"]

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


def round_tail(m, sub_bytes, round_key, final, name="s_next"):
    """ShiftRows, MixColumns (skipped when ``final``), AddRoundKey (§5.1.4).

    ``sub_bytes`` is the list of 16 S-box outputs (SubBytes already applied). Returns a
    Signal driven in ``m`` (named, so the expression tree is built once).
    """
    sr = shift_rows(sub_bytes)
    mc = Signal(128, name=f"{name}_mc")
    out = Signal(128, name=name)
    m.d.comb += [mc.eq(from_bytes(mix_columns(sr))),
                 out.eq(Mux(final, from_bytes(sr), mc) ^ round_key)]
    return out


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
