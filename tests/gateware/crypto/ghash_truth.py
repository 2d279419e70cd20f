"""GHASH expectations from an outside truth: ``cryptography``'s AES-GCM (NIST SP 800-38D §7.1).

For a random key K: H = CIPH_K(0^128) (AES-ECB), J0 = IV ‖ 0^31 ‖ 1 for a 96-bit IV, and
GCM's tag T = CIPH_K(J0) ⊕ GHASH_H(A ‖ 0^v ‖ C ‖ 0^u ‖ [len(A)]64 ‖ [len(C)]64), so
GHASH_H(...) = T ⊕ CIPH_K(J0).  Nothing here uses espline's own GF(2^128) code.
"""


from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def to_blocks(data):
    """Zero-pad ``data`` to 16 bytes and split into block-integers (first byte most significant)."""
    data = data + bytes(-len(data) % 16)
    return [int.from_bytes(data[i:i + 16], "big") for i in range(0, len(data), 16)]


class GcmKey:
    """A random AES key with its hash key H, both from ``cryptography``."""

    def __init__(self, rng, key_bytes=16):
        self.key = rng.randbytes(key_bytes)
        self._ecb = Cipher(algorithms.AES(self.key), modes.ECB())
        self.h = int.from_bytes(self._aes(bytes(16)), "big")

    def _aes(self, block):
        enc = self._ecb.encryptor()
        return enc.update(block) + enc.finalize()

    def packet(self, rng, aad_len, pt_len):
        """GCM-encrypt random A and P; return (GHASH input blocks, expected GHASH S)."""
        iv = rng.randbytes(12)
        aad, pt = rng.randbytes(aad_len), rng.randbytes(pt_len)
        out = AESGCM(self.key).encrypt(iv, pt, aad)
        ct, tag = out[:-16], out[-16:]
        ej0 = int.from_bytes(self._aes(iv + b"\x00\x00\x00\x01"), "big")
        blocks = to_blocks(aad) + to_blocks(ct) + [(8 * aad_len) << 64 | 8 * pt_len]
        return blocks, int.from_bytes(tag, "big") ^ ej0


def random_lengths(rng, n_blocks):
    """Byte lengths (len A, len C) whose padded GHASH input is exactly ``n_blocks`` blocks."""
    data = n_blocks - 1  # the length block is always last
    a_blocks = rng.randint(0, data)
    c_blocks = data - a_blocks

    def length(b):
        return 0 if b == 0 else rng.randint(16 * (b - 1) + 1, 16 * b)

    return length(a_blocks), length(c_blocks)


