"""The IKE SA's cryptography, all through `cryptography`: Diffie-Hellman groups 14 (MODP 2048,
RFC 3526 §3), 19 (ECP-256, RFC 5903) and 31 (Curve25519, RFC 8031); the PRF HMAC-SHA2-256
(RFC 4868) and prf+ (RFC 7296 §2.13); and the SK payload's protection (RFC 7296 §3.14):
AES-GCM with a 16-byte ICV (RFC 5282) or AES-CBC with HMAC-SHA2-256-128 (RFC 3602, RFC 4868).
"""

import contextlib
import hashlib
import hmac
import os
import warnings

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import dh, ec, x25519
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.utils import CryptographyDeprecationWarning

from .message import ParseError

# RFC 3526 §3: the 2048-bit MODP group, generator 2.
MODP_2048_P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AACAA68FFFFFFFFFFFFFFFF", 16)


class CryptoError(ValueError):
    """A peer's value refused (a public key off the group, an ICV that does not verify)."""


class DhGroup:
    """One Diffie-Hellman group (RFC 7296 §3.4): `generate()` a private key and its public
    value as the KE payload carries it; `shared()` the secret g^ir from the peer's value."""
    number: int
    name: str
    public_length: int

    def generate(self):
        raise NotImplementedError

    def public(self, private) -> bytes:
        raise NotImplementedError

    def shared(self, private, peer: bytes) -> bytes:
        raise NotImplementedError

    def _check_length(self, peer: bytes) -> None:
        if len(peer) != self.public_length:
            raise CryptoError(f"{self.name}: key exchange data of {len(peer)} bytes, not {self.public_length}")


@contextlib.contextmanager
def _ffdh():
    """cryptography 50 marks finite-field DH deprecated (still supported); group 14 is one
    RFC 8247 §2.4 still lists, so that warning alone is silenced, here only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        yield


class Modp2048(DhGroup):
    """RFC 3526 §3; the public value and the secret are big-endian, left-padded to the prime's
    256 bytes (RFC 7296 §3.4)."""
    number, name, public_length = 14, "modp2048", 256

    def generate(self):
        with _ffdh():
            return dh.DHParameterNumbers(MODP_2048_P, 2).parameters().generate_private_key()

    def from_private(self, x: int):
        with _ffdh():
            numbers = dh.DHParameterNumbers(MODP_2048_P, 2)
            return dh.DHPrivateNumbers(x, dh.DHPublicNumbers(pow(2, x, MODP_2048_P), numbers)).private_key()

    def public(self, private) -> bytes:
        return private.public_key().public_numbers().y.to_bytes(256, "big")

    def shared(self, private, peer: bytes) -> bytes:
        self._check_length(peer)
        y = int.from_bytes(peer, "big")
        if not 1 < y < MODP_2048_P - 1:  # 0, 1 and p-1 give a secret an eavesdropper knows
            raise CryptoError("modp2048: the peer's public value is out of range (1 < y < p - 1)")
        with _ffdh():
            peer_key = dh.DHPublicNumbers(y, dh.DHParameterNumbers(MODP_2048_P, 2)).public_key()
            return private.exchange(peer_key).rjust(256, b"\0")


class Ecp256(DhGroup):
    """RFC 5903: the KE data is x ‖ y (64 bytes, no point-format octet, §7), the secret is the x
    coordinate of the shared point (§7)."""
    number, name, public_length = 19, "ecp256", 64

    def generate(self):
        return ec.generate_private_key(ec.SECP256R1())

    def from_private(self, d: int):
        return ec.derive_private_key(d, ec.SECP256R1())

    def public(self, private) -> bytes:
        n = private.public_key().public_numbers()
        return n.x.to_bytes(32, "big") + n.y.to_bytes(32, "big")

    def shared(self, private, peer: bytes) -> bytes:
        self._check_length(peer)
        try:
            peer_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + peer)
        except ValueError:
            raise CryptoError("ecp256: the peer's public value is not a point on the curve") from None
        return private.exchange(ec.ECDH(), peer_key)


class Curve25519(DhGroup):
    """RFC 8031 §2: 32-byte public values and secret; an all-zero secret is refused (§2.2)."""
    number, name, public_length = 31, "curve25519", 32

    def generate(self):
        return x25519.X25519PrivateKey.generate()

    def from_private(self, scalar: bytes):
        return x25519.X25519PrivateKey.from_private_bytes(scalar)

    def public(self, private) -> bytes:
        return private.public_key().public_bytes_raw()

    def shared(self, private, peer: bytes) -> bytes:
        self._check_length(peer)
        try:
            return private.exchange(x25519.X25519PublicKey.from_public_bytes(peer))
        except ValueError:  # cryptography refuses the all-zero secret of a small-order point
            raise CryptoError("curve25519: the shared secret is all zeros (RFC 8031 §2.2)") from None


GROUPS: dict[int, DhGroup] = {g.number: g for g in (Modp2048(), Ecp256(), Curve25519())}


# -- PRF -------------------------------------------------------------------------------------

PRF_HMAC_SHA2_256 = 5


def prf(key: bytes, data: bytes) -> bytes:
    """PRF_HMAC_SHA2_256 (RFC 4868 §2.1.2): HMAC-SHA-256, any key length, 32 bytes out."""
    return hmac.new(key, data, hashlib.sha256).digest()


def prf_plus(key: bytes, seed: bytes, length: int) -> bytes:
    """prf+ (RFC 7296 §2.13): T1 = prf(K, S | 0x01), Tn = prf(K, Tn-1 | S | n), at most 255 rounds."""
    if length > 255 * 32:
        raise ValueError(f"prf+: {length} bytes is more than 255 blocks")
    out, block = b"", b""
    for n in range(1, 256):
        if len(out) >= length:
            break
        block = prf(key, block + seed + bytes([n]))
        out += block
    return out[:length]


# -- SK payload protection -----------------------------------------------------------------

ENCR_AES_CBC, ENCR_AES_GCM_16 = 12, 20
AUTH_HMAC_SHA2_256_128 = 12


class SkCipher:
    """Protects one direction's SK payloads: `seal(aad, plaintext)` gives the SK body (IV,
    ciphertext, ICV), `open(aad, body)` the plaintext with its padding removed (§3.14)."""
    icv_length: int
    iv_length: int

    def overhead(self, plaintext_length: int) -> int:
        raise NotImplementedError

    @staticmethod
    def _unpad(padded: bytes) -> bytes:
        pad = padded[-1] if padded else 0
        if not padded or pad + 1 > len(padded):
            raise CryptoError(f"SK padding length {pad} exceeds the {len(padded)} bytes decrypted")
        return padded[:-1 - pad]


class GcmCipher(SkCipher):
    """RFC 5282: key ‖ 4-byte salt; nonce = salt ‖ 8-byte IV (§4); AAD = the IKE header and the
    SK payload's generic header (§5.1); no padding needed beyond the pad-length octet."""
    icv_length, iv_length = 16, 8

    def __init__(self, keymat: bytes):
        self._aead, self._salt = AESGCM(keymat[:-4]), keymat[-4:]
        self._counter = int.from_bytes(os.urandom(4), "big") << 32  # IVs never repeat under a key (§8)

    def overhead(self, plaintext_length: int) -> int:
        return self.iv_length + 1 + self.icv_length

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        self._counter += 1
        iv = self._counter.to_bytes(8, "big")
        return iv + self._aead.encrypt(self._salt + iv, plaintext + b"\0", aad)

    def open(self, aad: bytes, body: bytes) -> bytes:
        if len(body) < self.iv_length + 1 + self.icv_length:
            raise ParseError(f"SK payload of {len(body)} bytes is shorter than IV, pad length and ICV", None)
        try:
            padded = self._aead.decrypt(self._salt + body[:8], body[8:], aad)
        except InvalidTag:
            raise CryptoError("SK payload: the ICV does not verify") from None
        return self._unpad(padded)


class CbcHmacCipher(SkCipher):
    """AES-CBC (RFC 3602) with HMAC-SHA2-256-128 (RFC 4868) over the whole message up to the ICV
    (RFC 7296 §3.14); a random 16-byte IV, padding to the block."""
    icv_length, iv_length = 16, 16

    def __init__(self, encryption_key: bytes, integrity_key: bytes):
        self._key, self._integrity = encryption_key, integrity_key

    def overhead(self, plaintext_length: int) -> int:
        return self.iv_length + (16 - (plaintext_length + 1) % 16) % 16 + 1 + self.icv_length

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        iv = os.urandom(16)
        pad = (16 - (len(plaintext) + 1) % 16) % 16
        enc = Cipher(algorithms.AES(self._key), modes.CBC(iv)).encryptor()
        body = iv + enc.update(plaintext + bytes(pad) + bytes([pad])) + enc.finalize()
        return body + hmac.new(self._integrity, aad + body, hashlib.sha256).digest()[:16]

    def open(self, aad: bytes, body: bytes) -> bytes:
        data, icv = body[:-16], body[-16:]
        if len(data) < 32 or (len(data) - 16) % 16:
            raise ParseError(f"SK payload of {len(body)} bytes is not IV, whole blocks and ICV", None)
        if not hmac.compare_digest(hmac.new(self._integrity, aad + data, hashlib.sha256).digest()[:16], icv):
            raise CryptoError("SK payload: the ICV does not verify")
        dec = Cipher(algorithms.AES(self._key), modes.CBC(data[:16])).decryptor()
        return self._unpad(dec.update(data[16:]) + dec.finalize())

