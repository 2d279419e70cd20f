"""Key derivation (RFC 7296 §2.13, §2.14, §2.17, §2.18) and PSK authentication (§2.15)."""

import hmac
from dataclasses import dataclass

from .crypto import CbcHmacCipher, GcmCipher, SkCipher, prf, prf_plus
from .proposals import Suite

PRF_KEY_LENGTH = 32  # HMAC-SHA2-256's preferred key length: SK_d, SK_pi, SK_pr (§2.14)
KEY_PAD = b"Key Pad for IKEv2"  # §2.15


@dataclass(frozen=True)
class IkeKeys:
    """The seven keys of an IKE SA (§2.14), from SKEYSEED."""
    sk_d: bytes
    sk_ai: bytes
    sk_ar: bytes
    sk_ei: bytes
    sk_er: bytes
    sk_pi: bytes
    sk_pr: bytes

    @classmethod
    def derive(cls, suite: Suite, skeyseed: bytes, nonce_i: bytes, nonce_r: bytes, spi_i: bytes,
               spi_r: bytes) -> "IkeKeys":
        """{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)."""
        lengths = [PRF_KEY_LENGTH, suite.integrity_keymat, suite.integrity_keymat, suite.encryption_keymat,
                   suite.encryption_keymat, PRF_KEY_LENGTH, PRF_KEY_LENGTH]
        stream = prf_plus(skeyseed, nonce_i + nonce_r + spi_i + spi_r, sum(lengths))
        parts, at = [], 0
        for n in lengths:
            parts.append(stream[at:at + n])
            at += n
        return cls(*parts)

    def ciphers(self, suite: Suite, initiator: bool) -> tuple[SkCipher, SkCipher]:
        """(the cipher for messages we send, the one for messages we receive)."""
        def make(e, a):
            return GcmCipher(e) if not suite.integrity else CbcHmacCipher(e, a)
        i_to_r, r_to_i = make(self.sk_ei, self.sk_ai), make(self.sk_er, self.sk_ar)
        return (i_to_r, r_to_i) if initiator else (r_to_i, i_to_r)


def skeyseed(nonce_i: bytes, nonce_r: bytes, shared: bytes) -> bytes:
    """SKEYSEED = prf(Ni | Nr, g^ir) (§2.14)."""
    return prf(nonce_i + nonce_r, shared)


def rekeyed_skeyseed(old_sk_d: bytes, shared: bytes, nonce_i: bytes, nonce_r: bytes) -> bytes:
    """A rekeyed IKE SA's SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr) (§2.18)."""
    return prf(old_sk_d, shared + nonce_i + nonce_r)


def child_keymat(suite: Suite, sk_d: bytes, nonce_i: bytes, nonce_r: bytes, shared: bytes = b"") -> tuple[bytes, bytes]:
    """(initiator-to-responder key, responder-to-initiator key) of a Child SA: KEYMAT =
    prf+(SK_d, [g^ir (new) |] Ni | Nr), the initiator's direction first, each direction its
    encryption then its integrity key (§2.17); for AES-GCM the key and its 4-byte salt (RFC 4106 §8.1)."""
    n = suite.encryption_keymat + suite.integrity_keymat
    keymat = prf_plus(sk_d, shared + nonce_i + nonce_r, 2 * n)
    return keymat[:n], keymat[n:]


def psk_auth(psk: bytes, sk_p: bytes, signed_message: bytes, peer_nonce: bytes, id_body: bytes) -> bytes:
    """AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>) where SignedOctets =
    the sender's first message | the peer's nonce | prf(SK_px, RestOfIDPayload) (§2.15)."""
    octets = signed_message + peer_nonce + prf(sk_p, id_body)
    return prf(prf(psk, KEY_PAD), octets)


def auth_matches(expected: bytes, received: bytes) -> bool:
    return hmac.compare_digest(expected, received)
