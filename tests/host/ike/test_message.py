"""IKEv2 messages (RFC 7296 §3): the hand-written codec against strongSwan 5.9.8's own messages
(bit-exact round trips) and against scapy's IKEv2 layer (each decodes what the other encodes);
hostile input (every truncation, bad lengths, seeded fuzz) refused with ParseError only; the
Ethernet/IPv4/UDP framing of the host port against scapy."""

import json
import pathlib
import random

import pytest
from scapy.contrib.ikev2 import IKEv2
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from espline.host.ike.frames import Datagram, build_frame, parse_frame
from espline.host.ike.message import (
    AUTH_PSK,
    ESN,
    ID_FQDN,
    IKE_AUTH,
    IKE_SA_INIT,
    NAT_DETECTION_SOURCE_IP,
    PROTO_ESP,
    PROTO_IKE,
    REKEY_SA,
    AuthPayload,
    DeletePayload,
    Identification,
    KePayload,
    Message,
    NoncePayload,
    Notify,
    ParseError,
    Proposal,
    SaPayload,
    TrafficSelector,
    TrafficSelectors,
    Transform,
    decode,
    decode_chain,
    encode,
)

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "strongswan-x25519.json").read_text())
STRONGSWAN = [bytes.fromhex(m) for m in DATA["messages"]]


@pytest.mark.parametrize("index", [0, 1])
def test_strongswan_ike_sa_init_round_trips_bit_exact(index):
    raw = STRONGSWAN[index]
    m = decode(raw)
    assert encode(Message(m.spi_i, m.spi_r, m.exchange, m.flags, m.message_id, m.payloads)) == raw


@pytest.mark.parametrize("index", [0, 1])
def test_strongswan_messages_decode_as_scapy_decodes_them(index):
    raw = STRONGSWAN[index]
    ours, theirs = decode(raw), IKEv2(raw)
    assert (ours.spi_i, ours.spi_r, ours.exchange, ours.message_id) == (
        theirs.init_SPI, theirs.resp_SPI, theirs.exch_type, theirs.id)
    layers = []
    p = theirs.payload
    while p is not None and p.name != "NoPayload" and p.name != "Raw":
        layers.append(p)
        p = p.payload
    assert len(layers) == len(ours.payloads)
    for mine, s in zip(ours.payloads, layers, strict=True):
        if isinstance(mine, SaPayload):
            prop = s.prop
            assert (mine.proposals[0].protocol, len(mine.proposals[0].transforms)) == (prop.proto, prop.trans_nb)
            t, i = prop.trans, 0
            while t is not None and t.name == "IKEv2 Transform":
                want = mine.proposals[0].transforms[i]
                assert (want.type, want.id) == (t.transform_type, t.transform_id)
                assert want.key_length == (t.key_length if t.length > 8 else None)
                t, i = t.payload, i + 1
        elif isinstance(mine, KePayload):
            assert (mine.group, mine.data) == (s.group, s.ke)
        elif isinstance(mine, NoncePayload):
            assert mine.data == s.nonce
        elif isinstance(mine, Notify):
            assert (mine.type, mine.data) == (s.type, s.notify)


def test_our_messages_decode_in_scapy():
    payloads = [
        SaPayload([Proposal(1, PROTO_ESP, b"\x11\x22\x33\x44", [Transform(1, 20, 256), Transform(ESN, 1)])]),
        KePayload(31, bytes(range(32))), NoncePayload(b"n" * 32), Identification(True, ID_FQDN, b"site-a.example"),
        AuthPayload(AUTH_PSK, b"a" * 32), Notify(REKEY_SA, PROTO_ESP, b"\xde\xad\xbe\xef"),
        Notify(NAT_DETECTION_SOURCE_IP, data=b"h" * 20), DeletePayload(PROTO_ESP, [b"\0\0\1\0", b"\0\0\2\0"]),
        TrafficSelectors(True, [TrafficSelector(0, 0, 65535, 0x0A010000, 0x0A01FFFF)]),
        TrafficSelectors(False, [TrafficSelector(6, 80, 80, 0x0A020000, 0x0A0200FF)])]
    raw = encode(Message(b"\1" * 8, b"\2" * 8, IKE_AUTH, 0x08, 7, payloads))
    assert decode(raw).payloads == payloads
    s = IKEv2(raw)
    assert (s.exch_type, s.id, s.length) == (IKE_AUTH, 7, len(raw))
    names = []
    p = s.payload
    while p is not None and p.name not in ("NoPayload", "Raw"):
        names.append(p.name)
        p = p.payload
    assert names == ["IKEv2 SA", "IKEv2 Key Exchange", "IKEv2 Nonce", "IKEv2 Identification - Initiator",
                     "IKEv2 Authentication", "IKEv2 Notify", "IKEv2 Notify", "IKEv2 Delete",
                     "IKEv2 Traffic Selector - Initiator", "IKEv2 Traffic Selector - Responder"]
    sa = s.payload
    assert (sa.prop.SPI, sa.prop.trans.key_length, sa.prop.trans.payload.transform_id) == (b"\x11\x22\x33\x44",
                                                                                          256, 1)
    delete = s["IKEv2 Delete"]
    assert (delete.SPInum, delete.SPI) == (2, [b"\0\0\1\0", b"\0\0\2\0"])
    ts = s["IKEv2 Traffic Selector - Responder"].traffic_selector[0]
    assert (ts.IP_protocol_ID, ts.start_port, ts.end_port, ts.starting_address_v4, ts.ending_address_v4) == (
        6, 80, 80, "10.2.0.0", "10.2.0.255")


def test_delete_of_the_ike_sa_names_no_spi():
    raw = encode(Message(b"\1" * 8, b"\2" * 8, 37, 0, 3, [DeletePayload(PROTO_IKE, [])]))
    assert raw[-4:] == bytes([PROTO_IKE, 0, 0, 0]) and decode(raw).payloads == [DeletePayload(PROTO_IKE, [])]


@pytest.mark.parametrize("raw", STRONGSWAN, ids=[f"strongswan{i}" for i in range(len(STRONGSWAN))])
def test_every_truncation_refused(raw):
    for n in range(len(raw)):
        with pytest.raises(ParseError):
            decode(raw[:n])


def test_bad_lengths_and_versions_refused():
    raw = STRONGSWAN[0]
    cases = {
        "header length short": raw[:24] + (len(raw) - 1).to_bytes(4, "big") + raw[28:],
        "header length long": raw[:24] + (len(raw) + 1).to_bytes(4, "big") + raw[28:],
        "major version 3": raw[:17] + b"\x30" + raw[18:],
        "zero initiator SPI": bytes(8) + raw[8:],
        "payload length 3": raw[:30] + (3).to_bytes(2, "big") + raw[32:],
        "payload length past the end": raw[:30] + (0xFFFF).to_bytes(2, "big") + raw[32:],
        "trailing bytes": raw[:24] + (len(raw) + 2).to_bytes(4, "big") + raw[28:] + b"\0\0",
        "oversized": raw + bytes(70000),
        # a first payload of type 99 with the critical bit, then the message's own payloads
        "unknown critical payload": raw[:16] + b"\x63" + raw[17:24] + (len(raw) + 4).to_bytes(4, "big")
        + b"\x21\x80\x00\x04" + raw[28:],
    }
    for data in cases.values():
        with pytest.raises(ParseError):
            decode(data)
    with pytest.raises(ParseError) as e:
        decode(cases["unknown critical payload"])
    assert e.value.notify == 1  # UNSUPPORTED_CRITICAL_PAYLOAD (§2.5)


def test_fuzz_decodes_or_refuses_cleanly():
    """Seeded mutations of real messages and random chains: ParseError or a message, nothing else."""
    rng = random.Random(7296)
    refused = 0
    for _ in range(3000):
        raw = bytearray(rng.choice(STRONGSWAN))
        for _ in range(rng.randint(1, 6)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        try:
            decode(bytes(raw))
        except ParseError:
            refused += 1
        try:
            decode_chain(bytes(rng.randbytes(rng.randint(0, 80))), rng.choice([33, 34, 35, 40, 41, 42, 44]))
        except ParseError:
            refused += 1
    assert refused > 1000


def test_frames_against_scapy():
    d = Datagram("192.0.2.1", "198.51.100.2", 4500, 4500, STRONGSWAN[2])
    frame = build_frame(d, b"\2\0\0\0\0\1", b"\2\0\0\0\0\2", 77)
    ip = Ether(frame)[IP]
    ip_again = IP(bytes(IP(src=ip.src, dst=ip.dst, id=77, flags="DF", ttl=64) / UDP(sport=4500, dport=4500)
                        / (bytes(4) + STRONGSWAN[2])))
    assert (ip.chksum, ip[UDP].chksum) == (ip_again.chksum, ip_again[UDP].chksum)
    assert frame[14 + 28: 14 + 32] == bytes(4) and parse_frame(frame) == Datagram(
        d.src, d.dst, d.sport, d.dport, d.payload, b"\2\0\0\0\0\1")
    plain = build_frame(Datagram("192.0.2.1", "198.51.100.2", 500, 500, STRONGSWAN[0]), b"\0" * 6, b"\1" * 6)
    assert IKEv2(bytes(Ether(plain)[UDP].payload)).exch_type == IKE_SA_INIT
    for bad in (frame[:40], frame[:14] + b"\x45" + frame[15:24] + b"\0\0" + frame[26:], frame[:-1],
                frame[:12] + b"\x86\xdd" + frame[14:], frame[:42] + b"\1\0\0\0" + frame[46:]):
        with pytest.raises(ParseError):
            parse_frame(bad)
