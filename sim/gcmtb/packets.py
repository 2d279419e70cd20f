"""GCM engine packets: encoding to the engine's ports, expected output, NIST CAVS vectors.

Simulator-independent: used by the Amaranth-simulator tests, the cocotb bench and the
benchmark. Expected values come from NIST vectors or from `cryptography`, never from the
gateware.
"""

import os
import random
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["Packet", "beats_to_int", "encode", "expected_beats", "gcm_expect", "load_nist", "random_packet",
           "throughput_packets"]


@dataclass
class Packet:
    key: bytes              # 16 or 32 bytes
    iv: bytes               # 12 bytes (ESP: salt(4) ‖ explicit IV(8))
    aad: bytes              # 0..16 bytes (ESP: SPI ‖ seq, or SPI ‖ seq_hi ‖ seq_lo)
    data: bytes             # plaintext (encrypt) or ciphertext (decrypt)
    decrypt: bool = False
    icv_len: int = 16
    icv: bytes = b""        # decrypt: the received ICV (icv_len bytes)
    # NIST expectations (None: compute with `cryptography`)
    nist_out: bytes | None = None
    nist_tag: bytes | None = None
    nist_fail: bool | None = None


def _ctr(key, iv, data):
    c = Cipher(algorithms.AES(key), modes.CTR(iv + b"\0\0\0\2")).encryptor()
    return c.update(data) + c.finalize()


def gcm_expect(p):
    """(output bytes, tag (icv_len bytes), ok) per `cryptography` (or NIST, when given)."""
    if not p.decrypt:
        sealed = AESGCM(p.key).encrypt(p.iv, p.data, p.aad or None)
        out, tag, ok = sealed[:-16], sealed[-16:][:p.icv_len], True
    else:
        out = _ctr(p.key, p.iv, p.data)   # CTR is its own inverse; plaintext out even on a bad tag
        tag = AESGCM(p.key).encrypt(p.iv, out, p.aad or None)[-16:][:p.icv_len]
        ok = tag == p.icv
    if p.nist_out is not None:
        out = p.nist_out
    if p.nist_tag is not None:
        tag = p.nist_tag
    if p.nist_fail is not None:
        ok = not p.nist_fail
    return out, tag, ok


def beats_to_int(chunk):
    return int.from_bytes(chunk.ljust(16, b"\0"), "big")


def encode(p):
    """(command dict, list of 128-bit input beats) for the engine's ``cmd`` and ``i`` ports."""
    cmd = {
        "key": int.from_bytes(p.key.ljust(32, b"\0"), "big"), "aes256": len(p.key) == 32,
        "decrypt": p.decrypt, "iv": int.from_bytes(p.iv, "big"),
        "aad": beats_to_int(p.aad), "aad_len": len(p.aad), "length": len(p.data), "icv_len": p.icv_len,
    }
    beats = [beats_to_int(p.data[n:n + 16]) for n in range(0, len(p.data), 16)]
    if p.decrypt:
        beats.append(beats_to_int(p.icv))
    return cmd, beats


def expected_beats(p):
    """Expected output beats as (data, nbytes, last, ok) tuples; decrypting, the tag beat carries
    the computed tag ⊕ the received ICV (docs/gcm.md)."""
    out, tag, ok = gcm_expect(p)
    if p.decrypt:
        tag = bytes(a ^ b for a, b in zip(tag, p.icv.ljust(p.icv_len, b"\0"), strict=True))
    beats = [(beats_to_int(out[n:n + 16]), len(out[n:n + 16]), 0, 0) for n in range(0, len(out), 16)]
    beats.append((beats_to_int(tag), p.icv_len, 1, int(ok)))
    return beats


def random_packet(rng: random.Random, *, max_len=256, decrypt=None, key_len=None, tamper=0.25):
    """A random ESP-shaped packet: AAD 8 or 12 bytes, ICV 8/12/16 (or any AAD 0..16)."""
    key = rng.randbytes(key_len or rng.choice([16, 32]))
    iv = rng.randbytes(12)
    aad = rng.randbytes(rng.choice([8, 12, 8, 12, 0, 16, rng.randrange(17)]))
    icv_len = rng.choice([16, 16, 12, 8])
    data = rng.randbytes(rng.randrange(1, max_len + 1))
    dec = rng.random() < 0.5 if decrypt is None else decrypt
    p = Packet(key, iv, aad, data, decrypt=dec, icv_len=icv_len)
    if dec:
        # A genuine ICV for a plaintext → ciphertext pair, sometimes tampered with.
        pt = rng.randbytes(len(data))
        sealed = AESGCM(key).encrypt(iv, pt, aad or None)
        p.data, p.icv = sealed[:-16], sealed[-16:][:icv_len]
        if rng.random() < tamper:
            where = rng.randrange(3)
            if where == 0:
                i = rng.randrange(icv_len)
                p.icv = p.icv[:i] + bytes([p.icv[i] ^ 1 << rng.randrange(8)]) + p.icv[i + 1:]
            elif where == 1:
                i = rng.randrange(len(p.data))
                p.data = p.data[:i] + bytes([p.data[i] ^ 0x80]) + p.data[i + 1:]
            elif aad:
                p.aad = bytes([aad[0] ^ 1]) + aad[1:]
    return p


def load_nist(subset=True, tag_lens=(64, 96, 128), max_aad_bits=128):
    """96-bit-IV NIST CAVS GCM vectors that fit ESP use (AAD ≤ 16 bytes, ICV 8/12/16 bytes).

    ``subset``: only ``Count = 0`` of each parameter section (the default test suite).
    """
    import cryptography_vectors

    packets = []
    for name, decrypt in [("gcmEncryptExtIV128.rsp", False), ("gcmEncryptExtIV256.rsp", False),
                          ("gcmDecrypt128.rsp", True), ("gcmDecrypt256.rsp", True)]:
        with cryptography_vectors.open_vector_file(os.path.join("ciphers", "AES", "GCM", name), "r") as f:
            lines = f.read().splitlines()
        params, cur = {}, None
        records = []
        for line in lines + [""]:
            line = line.strip()
            if line.startswith("[") and "=" in line:
                k, v = line[1:-1].split("=")
                params[k.strip()] = int(v)
            elif line.startswith("Count"):
                cur = {"params": dict(params), "Count": int(line.split("=")[1])}
            elif cur is not None and "=" in line:
                k, v = line.split("=", 1)
                cur[k.strip()] = bytes.fromhex(v.strip())
            elif cur is not None and line == "FAIL":
                cur["FAIL"] = True
            elif cur is not None and line == "":
                records.append(cur)
                cur = None
        for r in records:
            pr = r["params"]
            if pr["IVlen"] != 96 or pr["AADlen"] > max_aad_bits or pr["Taglen"] not in tag_lens:
                continue
            if subset and r["Count"] != 0:
                continue
            t = pr["Taglen"] // 8
            if decrypt:
                packets.append(Packet(r["Key"], r["IV"], r["AAD"], r["CT"], decrypt=True, icv_len=t,
                                      icv=r["Tag"], nist_out=r.get("PT"), nist_fail=r.get("FAIL", False)))
            else:
                packets.append(Packet(r["Key"], r["IV"], r["AAD"], r["PT"], icv_len=t,
                                      nist_out=r["CT"], nist_tag=r["Tag"]))
    return packets


def throughput_packets(n=8, size=1500, decrypt=False):
    """Back-to-back ESP-shaped packets with alternating AES-128/AES-256 keys (bench workload)."""
    rng = random.Random(1500)
    out = []
    for k in range(n):
        key = rng.randbytes(16 if k % 2 == 0 else 32)
        iv, aad = rng.randbytes(12), rng.randbytes(8)
        if decrypt:
            sealed = AESGCM(key).encrypt(iv, rng.randbytes(size), aad)
            out.append(Packet(key, iv, aad, sealed[:-16], decrypt=True, icv=sealed[-16:]))
        else:
            out.append(Packet(key, iv, aad, rng.randbytes(size)))
    return out
