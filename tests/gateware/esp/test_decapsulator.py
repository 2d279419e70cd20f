"""The decapsulator against the reference model's SAs and AEAD, jobs filled from the model's SA as
the inbound control fills them: ESP frames of tunnel and transport SAs, NAT-T, AES-128 and
AES-256, ICVs of 8, 12 and 16 bytes, ESN, made by the peer's model; a tampered ICV, bad padding,
forwarded, punted and dropped frames between; random stalls on every port; the wide and the
compact engine; a 16-, 4- and 2-byte packet bus. Out come the clear headers and the plaintext
(payload, padding, pad length, next header) into the verified buffer, one trailer record and one
ICV verdict per decrypted frame, the punted frames to the host."""

import random

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from esp_jobs import DROP, FORWARD, aad, decap, decap_pass, feeders, ip_of, plain_frames

from espline.gateware.esp.decapsulator import Decapsulator
from espline.sim.gcmtb.pysim import stream_get
from espline.sim.model import Port
from espline.sim.packetbus import simulate, take_frame
from espline.sim.sites import SPI_BA, hosts, two_sites
from espline.sim.traffic import arp_frame, ethernet, ip_packet

SAS = [("tunnel", False, {}), ("tunnel", True, {"key_bits": 256, "icv": 8, "esn": True}),
       ("transport", False, {"icv": 12}), ("transport", True, {"key_bits": 256, "esn": True})]


def ctr(sa, iv: bytes, data: bytes) -> bytes:
    """GCM's encryption alone (NIST SP 800-38D §6.5: counter blocks from J0 + 1): the plaintext
    of `data` whatever its ICV."""
    key, salt = sa.key[:-4], sa.key[-4:]
    return Cipher(algorithms.AES(key), modes.CTR(salt + iv + b"\0\0\0\2")).decryptor().update(data)


def esp_parts(sa, frame):
    l2, ihl, total, _ = ip_of(frame)
    at = l2 + ihl + (8 if sa.encap is not None else 0)
    icv = sa.icv_bits // 8
    return l2, ihl, at, frame[at + 8 : at + 16], frame[at + 16 : l2 + total - icv]


def reseal_with_bad_padding(peer_sa, frame):
    """`frame` with its plaintext's padding made wrong (a pad byte off by one), sealed again
    under the same IV, so its ICV is good and only the padding check fails."""
    l2, ihl, at, iv, body = esp_parts(peer_sa, frame)
    plain = bytearray(ctr(peer_sa, iv, body))
    plain[-2] = 3  # pad length 3: the three bytes before it must be 1, 2, 3
    plain[-5:-2] = b"\1\2\4"
    seq = int.from_bytes(frame[at + 4 : at + 8], "big")
    sealed = peer_sa.aead.seal(iv, aad(peer_sa, seq), bytes(plain))
    return frame[: at + 16] + sealed + frame[at + 16 + len(sealed) :]


def cases(rng):
    """(frame, job, expected) in random order; expected: ("o", bytes) | ("host", bytes) |
    ("decrypt", clear headers + plaintext, trailer facts, ICV ok) | None (dropped)."""
    out = []
    for mode, natt, options in SAS:
        site, peer = two_sites(mode, natt=natt, **options)
        sa, peer_sa = site.sad.get("in", SPI_BA), peer.sad.get("out", SPI_BA)
        frames = [peer.process(Port.PLAIN, f).frame for f in plain_frames(rng, mode, 3, hosts(mode)[::-1])]
        tampered = bytearray(frames[0])
        tampered[-1] ^= 0x40  # in the ICV
        frames.append(bytes(tampered))
        if mode == "transport" and natt:
            frames.append(reseal_with_bad_padding(peer_sa, frames[1]))
        for frame in frames:
            l2, ihl, at, iv, body = esp_parts(sa, frame)
            plain = ctr(sa, iv, body)
            seq = int.from_bytes(frame[at + 4 : at + 8], "big")
            ok = sa.aead.open(iv, aad(sa, seq), frame[at + 16 : l2 + ip_of(frame)[2]]) is not None
            a = l2 + (ihl if mode == "transport" else 0)
            out.append((frame, decap(sa, frame), ("decrypt", frame[:a] + plain, plain, ok)))
    ike = ethernet(ip_packet(60, "198.51.100.2", "192.0.2.1", "udp", sport=500, dport=500))
    out += [(arp_frame(), decap_pass(FORWARD), ("o", arp_frame())),
            (ike, decap_pass(FORWARD, to_host=True), ("host", ike)), (ike, decap_pass(DROP), None)]
    return out


def trailer_facts(plain: bytes) -> dict:
    """RFC 4303 §2.4: the pad length and next header end the plaintext; the padding is 1, 2, ..."""
    pad = plain[-2]
    pad_ok = pad + 2 <= len(plain) and plain[-2 - pad : -2] == bytes(range(1, pad + 1))
    facts = {"length": len(plain), "pad_len": pad, "next_header": plain[-1], "pad_ok": int(pad_ok),
             "head": plain[:20], "after_header": plain[4 * (plain[0] & 0xF) :][:4]}
    if pad_ok:
        facts["payload_len"] = len(plain) - 2 - pad
    return facts


@pytest.mark.parametrize("config,width", [("wide", 16), ("compact", 16), ("compact", 4),
                                          pytest.param("wide", 2, marks=pytest.mark.slow)])
def test_matches_the_model(config, width):
    rng = random.Random(2)
    items = cases(rng)
    rng.shuffle(items)
    dut = Decapsulator(width=width, config=config)
    expect = [e for _, _, e in items if e is not None]
    want_o = [e[1] for e in expect if e[0] in ("o", "decrypt")]
    want_host = [e[1] for e in expect if e[0] == "host"]
    decrypted = [e for e in expect if e[0] == "decrypt"]
    got_o, got_host, trailers, icvs = [], [], [], []

    frames, jobs = feeders(dut, items, rng)

    async def plain_sink(ctx):
        for _ in want_o:
            got_o.append(await take_frame(ctx, dut.o, width, rng, stall=0.3))

    async def host_sink(ctx):
        for _ in want_host:
            got_host.append(await take_frame(ctx, dut.host, width, rng, stall=0.5))

    async def trailer_sink(ctx):
        trailers.extend(await stream_get(ctx, dut.trailer, len(decrypted), rng=rng, ready_prob=0.7))

    async def icv_sink(ctx):
        icvs.extend(await stream_get(ctx, dut.icv, len(decrypted), rng=rng, ready_prob=0.7))

    simulate(dut, frames, jobs, plain_sink, host_sink, trailer_sink, icv_sink, cycles=50_000 * 16 // width,
             stuck=lambda: f"stuck: {len(got_o)} of {len(want_o)} frames out, {len(icvs)} verdicts")
    assert got_o == want_o and got_host == want_host
    assert [int(v.ok) for v in icvs] == [int(ok) for *_, ok in decrypted]
    assert [False, True] == sorted({ok for *_, ok in decrypted})
    for record, (_, _, plain, _) in zip(trailers, decrypted, strict=True):
        facts = trailer_facts(plain)
        got = {name: int(getattr(record, name)) for name in facts if name not in ("head", "after_header")}
        got["head"] = int(record.head).to_bytes(20, "little")[: len(facts["head"])]
        got["after_header"] = int(record.after_header).to_bytes(4, "little")[: len(facts["after_header"])]
        assert got == facts
    assert any(not trailer_facts(plain)["pad_ok"] for _, _, plain, ok in decrypted if ok)
