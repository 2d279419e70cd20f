"""AES-GCM for ESP as RFC 4106 defines it.

Key material is the AES key followed by a 4-byte salt (§8.1); the nonce is salt ‖ 8-byte
explicit IV (§4); the AAD is SPI ‖ seq, or SPI ‖ seq-high ‖ seq-low with ESN (§5); the ICV
is the GCM tag truncated to 8, 12 or 16 bytes (§6). The key material's length and the ICV length
come checked by the configuration (`espline.config.SecurityAssociation`).
"""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class EspGcm:
    """One SA's AEAD: seal and open ESP payloads."""

    def __init__(self, keymat: bytes, icv_len: int = 16):
        self.key, self.salt = keymat[:-4], keymat[-4:]
        self.icv_len = icv_len
        self._aead = AESGCM(self.key)

    def seal(self, iv: bytes, aad: bytes, plaintext: bytes) -> bytes:
        """Ciphertext ‖ ICV."""
        sealed = self._aead.encrypt(self.salt + iv, plaintext, aad)
        return sealed if self.icv_len == 16 else sealed[: len(plaintext) + self.icv_len]

    def open(self, iv: bytes, aad: bytes, sealed: bytes) -> bytes | None:
        """Plaintext, or None if the ICV does not verify."""
        try:
            if self.icv_len == 16:
                return self._aead.decrypt(self.salt + iv, sealed, aad)
            ciphertext, icv = sealed[: -self.icv_len], sealed[-self.icv_len :]
            mode = modes.GCM(self.salt + iv, icv, min_tag_length=self.icv_len)
            decryptor = Cipher(algorithms.AES(self.key), mode).decryptor()
            decryptor.authenticate_additional_data(aad)
            return decryptor.update(ciphertext) + decryptor.finalize()
        except InvalidTag:
            return None
