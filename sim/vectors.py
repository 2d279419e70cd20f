"""NIST CAVS AES-GCM test vectors (SP 800-38D validation), as shipped by `cryptography-vectors`."""

import os
from dataclasses import dataclass

import cryptography_vectors

FILES = {("encrypt", 128): "gcmEncryptExtIV128.rsp", ("encrypt", 256): "gcmEncryptExtIV256.rsp",
         ("decrypt", 128): "gcmDecrypt128.rsp", ("decrypt", 256): "gcmDecrypt256.rsp"}


@dataclass(frozen=True)
class GcmVector:
    key: bytes
    iv: bytes
    aad: bytes
    plaintext: bytes | None  # None: a decrypt vector that must fail authentication
    ciphertext: bytes
    tag: bytes
    name: str


def gcm_vectors(direction: str, key_bits: int, iv_bits: int = 96):
    """All vectors of one CAVS file with the given IV length, in file order."""
    path = os.path.join("ciphers", "AES", "GCM", FILES[direction, key_bits])
    with cryptography_vectors.open_vector_file(path, "r") as f:
        text = f.read()
    params, fields = {}, {}
    for line in text.splitlines() + [""]:
        line = line.strip()
        if line.startswith("["):
            name, _, value = line.strip("[]").partition("=")
            params[name.strip()] = int(value)
        elif "=" in line:
            name, _, value = line.partition("=")
            fields[name.strip()] = value.strip()
        elif line == "FAIL":
            fields["FAIL"] = True
        elif not line and "Key" in fields:
            if params.get("IVlen") == iv_bits:
                yield GcmVector(
                    key=bytes.fromhex(fields["Key"]), iv=bytes.fromhex(fields["IV"]),
                    aad=bytes.fromhex(fields["AAD"]),
                    plaintext=None if "FAIL" in fields else bytes.fromhex(fields["PT"]),
                    ciphertext=bytes.fromhex(fields["CT"]), tag=bytes.fromhex(fields["Tag"]),
                    name=f"{FILES[direction, key_bits]}:PT{params['PTlen']}:AAD{params['AADlen']}"
                         f":Tag{params['Taglen']}:{fields['Count']}")
            fields = {}
