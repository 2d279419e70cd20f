"""The daemon's cryptography against outside values: the DH groups against RFC 5903 §8.1
(ECP-256), RFC 7748 §6.1 (X25519) and a plain modular exponentiation (MODP 2048); the PRF
against RFC 4231 §4.2; prf+ against its definition (RFC 7296 §2.13) restated; and two IKE SAs
of strongSwan 5.9.8 (tests/host/ike/data/README.md): SKEYSEED, the seven keys, the SK payloads
opened, both AUTH values, the Child SA keys (with and without PFS) and a rekeyed IKE SA's keys,
as charon logged them."""

import hashlib
import hmac
import json
import pathlib
import random

import pytest

from espline.host.ike import keys, proposals
from espline.host.ike.crypto import GROUPS, MODP_2048_P, CbcHmacCipher, CryptoError, GcmCipher, prf, prf_plus
from espline.host.ike.message import (
    PROTO_IKE,
    AuthPayload,
    Identification,
    KePayload,
    NoncePayload,
    SaPayload,
    decode,
    decode_chain,
)


def test_ecp256_rfc5903():
    g = GROUPS[19]
    i = g.from_private(0xC88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433)
    r = g.from_private(0xC6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53)
    gi = bytes.fromhex("DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
                       "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3")
    gr = bytes.fromhex("D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
                       "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB")
    gir = bytes.fromhex("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE")
    assert g.public(i) == gi and g.public(r) == gr
    assert g.shared(i, gr) == g.shared(r, gi) == gir
    with pytest.raises(CryptoError):
        g.shared(i, gr[:32] + bytes(32))  # not on the curve
    with pytest.raises(CryptoError):
        g.shared(i, gr[:-1])


def test_x25519_rfc7748():
    g = GROUPS[31]
    a = g.from_private(bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
    b = g.from_private(bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
    pa = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    pb = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    shared = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
    assert g.public(a) == pa and g.public(b) == pb
    assert g.shared(a, pb) == g.shared(b, pa) == shared
    with pytest.raises(CryptoError):
        g.shared(a, bytes(32))  # a small-order point: the all-zero secret (RFC 8031 §2.2)


def test_modp2048_against_plain_exponentiation():
    g, rng = GROUPS[14], random.Random(14)
    x, y = rng.getrandbits(2040), rng.getrandbits(2040)
    a, b = g.from_private(x), g.from_private(y)
    assert g.public(a) == pow(2, x, MODP_2048_P).to_bytes(256, "big")
    assert g.shared(a, g.public(b)) == pow(2, x * y, MODP_2048_P).to_bytes(256, "big")
    for bad in (bytes(256), (1).to_bytes(256, "big"), (MODP_2048_P - 1).to_bytes(256, "big")):
        with pytest.raises(CryptoError):
            g.shared(a, bad)


def test_prf_rfc4231_and_prf_plus_restated():
    # RFC 4231 §4.2, test case 1 (HMAC-SHA-256), as RFC 4868 §2.7.1 uses it for PRF_HMAC_SHA2_256
    assert prf(b"\x0b" * 20, b"Hi There").hex() == \
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    key, seed = b"k" * 32, b"seed"
    t1 = hmac.new(key, seed + b"\x01", hashlib.sha256).digest()
    t2 = hmac.new(key, t1 + seed + b"\x02", hashlib.sha256).digest()
    t3 = hmac.new(key, t2 + seed + b"\x03", hashlib.sha256).digest()
    assert prf_plus(key, seed, 80) == (t1 + t2 + t3)[:80]
    with pytest.raises(ValueError):
        prf_plus(key, seed, 255 * 32 + 1)


def test_sk_ciphers_round_trip_and_refuse_tampering():
    for cipher in (GcmCipher(bytes(range(20))), CbcHmacCipher(bytes(16), bytes(32))):
        aad = b"header" * 5
        body = cipher.seal(aad, b"payloads")
        assert len(body) == cipher.overhead(8) + 8 and cipher.open(aad, body) == b"payloads"
        for bad_aad, bad_body in ((aad + b"x", body), (aad, body[:-1] + bytes([body[-1] ^ 1]))):
            with pytest.raises(CryptoError):
                cipher.open(bad_aad, bad_body)


# -- strongSwan 5.9.8's own IKE SAs ------------------------------------------------------------

RUNS = {"x25519": "aes128gcm16-prfsha256-x25519", "ecp256": "aes256gcm16-prfsha256-ecp256"}


def run(name):
    data = json.loads((pathlib.Path(__file__).parent / "data" / f"strongswan-{name}.json").read_text())
    suite = proposals.Suite.of(proposals.parse(RUNS[name], PROTO_IKE))
    return data, suite, [decode(bytes.fromhex(m)) for m in data["messages"]]


def h(data, name):
    return bytes.fromhex(data[name])


def opened(m, sk_e):
    first, body = m.sk
    at = len(m.raw) - len(body) - 4
    return decode_chain(GcmCipher(sk_e).open(m.raw[:at + 4], body), first)


def first(payloads, kind, **match):
    return next(p for p in payloads if isinstance(p, kind) and all(getattr(p, k) == v for k, v in match.items()))


@pytest.mark.parametrize("name", RUNS)
def test_strongswan_ike_sa_keys(name):
    data, suite, (init_i, init_r, *_) = run(name)
    ni, nr = init_i.get(NoncePayload).data, init_r.get(NoncePayload).data
    assert init_i.get(KePayload).group == init_r.get(KePayload).group == suite.dh
    seed = keys.skeyseed(ni, nr, h(data, "dh_secret"))
    assert seed == h(data, "skeyseed")
    k = keys.IkeKeys.derive(suite, seed, ni, nr, init_i.spi_i, init_r.spi_r)
    assert (k.sk_d, k.sk_ei, k.sk_er, k.sk_pi, k.sk_pr) == tuple(h(data, n) for n in ("sk_d", "sk_ei", "sk_er",
                                                                                        "sk_pi", "sk_pr"))
    assert k.sk_ai == k.sk_ar == b"" and len(k.sk_ei) == suite.key_bits // 8 + 4  # GCM: key and salt (RFC 5282 §7.1)


@pytest.mark.parametrize("name", RUNS)
def test_strongswan_auth_and_child_keys(name):
    data, _, (init_i, init_r, auth_i, auth_r, *_) = run(name)
    ni, nr = init_i.get(NoncePayload).data, init_r.get(NoncePayload).data
    req, resp = opened(auth_i, h(data, "sk_ei")), opened(auth_r, h(data, "sk_er"))
    psk = data["psk"].encode()
    idi, idr = first(req, Identification, initiator=True), first(resp, Identification, initiator=False)
    assert idi.data == bytes([192, 0, 2, 1])
    ours_i = keys.psk_auth(psk, h(data, "sk_pi"), init_i.raw, nr, idi.body)
    ours_r = keys.psk_auth(psk, h(data, "sk_pr"), init_r.raw, ni, idr.body)
    assert ours_i == h(data, "auth_i") == first(req, AuthPayload).data
    assert ours_r == h(data, "auth_r") == first(resp, AuthPayload).data
    esp = proposals.Suite.of(first(resp, SaPayload).proposals[0])
    assert not esp.esn and h(data, "child_seed") == ni + nr
    assert keys.child_keymat(esp, h(data, "sk_d"), ni, nr) == (h(data, "child_key_i"), h(data, "child_key_r"))


def test_strongswan_pfs_rekey_child_keys():
    """Site A's Child SA rekey: CREATE_CHILD_SA with X25519 (PFS); KEYMAT = prf+(SK_d, g^ir | Ni | Nr)."""
    data, _, messages = run("x25519")
    req, resp = opened(messages[4], h(data, "sk_ei")), opened(messages[5], h(data, "sk_er"))
    ni, nr = first(req, NoncePayload).data, first(resp, NoncePayload).data
    assert h(data, "rekey_seed") == h(data, "rekey_dh_secret") + ni + nr
    esp = proposals.Suite.of(first(resp, SaPayload).proposals[0])
    assert esp.dh == 31
    assert keys.child_keymat(esp, h(data, "sk_d"), ni, nr, h(data, "rekey_dh_secret")) == (
        h(data, "rekey_key_i"), h(data, "rekey_key_r"))


def test_strongswan_rekey_child_keys_without_pfs():
    data, _, messages = run("ecp256")
    req, resp = opened(messages[4], h(data, "sk_ei")), opened(messages[5], h(data, "sk_er"))
    ni, nr = first(req, NoncePayload).data, first(resp, NoncePayload).data
    esp = proposals.Suite.of(first(resp, SaPayload).proposals[0])
    assert esp.dh is None and esp.encryption_keymat == 36 and h(data, "rekey_seed") == ni + nr
    assert keys.child_keymat(esp, h(data, "sk_d"), ni, nr) == (h(data, "rekey_key_i"), h(data, "rekey_key_r"))


def test_strongswan_ike_sa_rekey_keys():
    """Site B rekeys the IKE SA (§2.18): SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr), the new
    SPIs from the SA payloads, B the new IKE SA's initiator; as site A's charon logged them."""
    data, suite, messages = run("ecp256")
    # B was the first IKE SA's responder: its request is under SK_er, A's response under SK_ei
    req, resp = opened(messages[6], h(data, "sk_er")), opened(messages[7], h(data, "sk_ei"))
    ni, nr = first(req, NoncePayload).data, first(resp, NoncePayload).data
    spi_i, spi_r = first(req, SaPayload).proposals[0].spi, first(resp, SaPayload).proposals[0].spi
    assert first(req, KePayload).group == 19 and len(spi_i) == len(spi_r) == 8
    seed = keys.rekeyed_skeyseed(h(data, "sk_d"), h(data, "ike_rekey_dh_secret"), ni, nr)
    assert seed == h(data, "ike_rekey_skeyseed")
    k = keys.IkeKeys.derive(suite, seed, ni, nr, spi_i, spi_r)
    assert (k.sk_d, k.sk_ei, k.sk_er, k.sk_pi, k.sk_pr) == tuple(
        h(data, f"ike_rekey_{n}") for n in ("sk_d", "sk_ei", "sk_er", "sk_pi", "sk_pr"))
