"""AES written here from FIPS-197, independent of the gateware: the S-box from the GF(2^8)
inverse and the affine map (§5.1.1), the round steps (§5.1.2-§5.1.4), the key expansion (§5.2).
Blocks and round keys are 16-byte strings; byte n of a block is state s[n mod 4, n // 4] (§3.4)."""


def _mul(a: int, b: int) -> int:
    """Multiplication in GF(2^8) modulo x^8 + x^4 + x^3 + x + 1 (§4.2)."""
    out = 0
    while b:
        if b & 1:
            out ^= a
        a = (a << 1 ^ (0x11B if a & 0x80 else 0)) & 0x1FF
        b >>= 1
    return out


def _sbox(x: int) -> int:
    inv = next((y for y in range(1, 256) if _mul(x, y) == 1), 0)
    out = 0x63
    for i in range(5):  # b ^ rotl(b,1) ^ rotl(b,2) ^ rotl(b,3) ^ rotl(b,4) ^ 0x63
        out ^= (inv << i | inv >> (8 - i)) & 0xFF
    return out


SBOX = bytes(_sbox(x) for x in range(256))


def sub_word(word: bytes) -> bytes:
    return bytes(SBOX[b] for b in word)


def round_(state: bytes, round_key: bytes, final: bool = False) -> bytes:
    """SubBytes, ShiftRows, MixColumns (not in the final round), AddRoundKey."""
    s = [SBOX[b] for b in state]
    s = [s[4 * ((n // 4 + n % 4) % 4) + n % 4] for n in range(16)]  # row r rotated left by r
    if not final:
        mixed = []
        for c in range(4):
            a = s[4 * c : 4 * c + 4]
            mixed += [_mul(a[0], 2) ^ _mul(a[1], 3) ^ a[2] ^ a[3], a[0] ^ _mul(a[1], 2) ^ _mul(a[2], 3) ^ a[3],
                      a[0] ^ a[1] ^ _mul(a[2], 2) ^ _mul(a[3], 3), _mul(a[0], 3) ^ a[1] ^ a[2] ^ _mul(a[3], 2)]
        s = mixed
    return bytes(x ^ k for x, k in zip(s, round_key, strict=True))


def expand(key: bytes) -> list[bytes]:
    """The round keys K[0..Nr] (§5.2, Figure 11)."""
    nk = len(key) // 4
    nr = nk + 6
    w = [key[4 * i : 4 * i + 4] for i in range(nk)]
    rcon = 1
    for i in range(nk, 4 * (nr + 1)):
        t = w[i - 1]
        if i % nk == 0:
            t = bytes(a ^ b for a, b in zip(sub_word(t[1:] + t[:1]), bytes((rcon, 0, 0, 0)), strict=True))
            rcon = _mul(rcon, 2)
        elif nk > 6 and i % nk == 4:
            t = sub_word(t)
        w.append(bytes(a ^ b for a, b in zip(w[i - nk], t, strict=True)))
    return [b"".join(w[4 * r : 4 * r + 4]) for r in range(nr + 1)]


def rounds(key: bytes, block: bytes) -> list[bytes]:
    """The state after each round 0..Nr; the last is the cipher text."""
    keys = expand(key)
    states = [bytes(a ^ b for a, b in zip(block, keys[0], strict=True))]
    for r in range(1, len(keys)):
        states.append(round_(states[-1], keys[r], final=r == len(keys) - 1))
    return states
