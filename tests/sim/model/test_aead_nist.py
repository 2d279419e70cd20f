"""The model's RFC 4106 AEAD against the NIST CAVS GCM vectors (96-bit IVs, ICV 64/96/128)."""


from espline.sim.model.aead import EspGcm
from espline.sim.vectors import gcm_vectors

ESP_TAGS = (8, 12, 16)


def esp_vectors(direction):
    return [v for bits in (128, 256) for v in gcm_vectors(direction, bits) if len(v.tag) in ESP_TAGS]


def as_esp(v):
    """RFC 4106 splits the 12-byte nonce into salt (key material) and 8-byte explicit IV."""
    return EspGcm(v.key + v.iv[:4], len(v.tag)), v.iv[4:]


def test_encrypt_vectors():
    vectors = esp_vectors("encrypt")
    assert len(vectors) > 1000
    for v in vectors:
        aead, iv = as_esp(v)
        assert aead.seal(iv, v.aad, v.plaintext) == v.ciphertext + v.tag, v.name


def test_decrypt_vectors():
    vectors = esp_vectors("decrypt")
    assert any(v.plaintext is None for v in vectors) and any(v.plaintext is not None for v in vectors)
    for v in vectors:
        aead, iv = as_esp(v)
        assert aead.open(iv, v.aad, v.ciphertext + v.tag) == v.plaintext, v.name
