"""The appliance's behaviour around ESP: layer 2, policies, IKE/NAT-T punting, malformed input,
lifetimes, sequence exhaustion, SA lifecycle and the accounting identity."""

import random
import struct
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Dot1Q, Ether

from espline.sim.model import Appliance, Event, Lifetime, Policy, Port, Reason, SecurityAssociation, Selector, Verdict
from espline.sim.sites import ADDR_A, ADDR_B, HOST_A, HOST_B, SPI_AB, hosts, two_sites
from espline.sim.traffic import arp_frame, ethernet, ip_packet


def accounted(*appliances):
    return all(x.counters.received == x.counters.accounted for x in appliances)


def test_round_trip_keeps_layer_2_and_vlan():
    a, b = two_sites()
    inner = ip_packet(200, HOST_A, HOST_B)
    frame = ethernet(inner, vlan=42)
    wire = a.process(Port.PLAIN, frame)
    assert wire.port is Port.CIPHER and wire.frame[:18] == frame[:18]
    back = b.process(Port.CIPHER, wire.frame)
    assert back.port is Port.PLAIN and back.frame == frame
    assert accounted(a, b)


def test_non_ip_passes_both_ways_and_ipv6_follows_its_setting():
    a, _ = two_sites()
    arp = arp_frame()
    assert a.process(Port.PLAIN, arp) == Verdict(Port.CIPHER, arp)
    assert a.process(Port.CIPHER, arp) == Verdict(Port.PLAIN, arp)
    v6 = bytes(Ether(type=0x86DD)) + bytes(40)
    assert a.process(Port.PLAIN, v6).reason is Reason.POLICY
    assert Appliance(ipv6="bypass").process(Port.PLAIN, v6).port is Port.CIPHER


def test_outer_header_follows_the_sa():
    a, _ = two_sites(ttl=17)
    inner = ip_packet(100, HOST_A, HOST_B, tos=0xB8 | 1, df=True)
    outer = IP(a.process(Port.PLAIN, ethernet(inner)).frame[14:])
    assert (outer.src, outer.dst, outer.ttl, outer.tos, outer.flags.DF) == (ADDR_A, ADDR_B, 17, 0xB9, True)
    assert IP(bytes(outer)).chksum == outer.chksum  # checksum valid as scapy computes it


def bad_ipv4_frames():
    good = ip_packet(60, HOST_A, HOST_B)
    def edit(offset, value):
        p = bytearray(good)
        p[offset] = value
        return bytes(p)
    return {
        "runt": bytes(10),
        "vlan-runt": bytes(12) + b"\x81\x00\x00",
        "double-tag": bytes(Ether() / Dot1Q(type=0x8100) / Dot1Q(type=0x0800)) + good,
        "bad-checksum": ethernet(edit(10, good[10] ^ 1)),
        "version-6-in-ipv4": ethernet(edit(0, 0x65)),
        "ihl-4": ethernet(edit(0, 0x44)),
        "length-beyond-frame": ethernet(good[:40]),
        "empty-ip": ethernet(b""),
    }


@pytest.mark.parametrize("port", [Port.PLAIN, Port.CIPHER])
@pytest.mark.parametrize("name", bad_ipv4_frames())
def test_malformed_frames_are_dropped(port, name):
    a, _ = two_sites()
    assert a.process(port, bad_ipv4_frames()[name]).reason is Reason.MALFORMED


def test_policies_in_priority_order_with_port_ranges():
    sa = SecurityAssociation(spi=0x100, dir="out", src=ADDR_A, dst=ADDR_B, mode="tunnel", key=bytes(20))
    policies = [
        Policy("out", Selector(dst="10.2.0.0/16", proto=6, dport=(80, 89)), "bypass", priority=1),
        Policy("out", Selector(dst="10.2.0.0/16"), "protect", 0x100, priority=2),
        Policy("out", Selector(dst="10.2.9.0/24"), "discard", priority=0),
    ]
    a = Appliance([sa], policies, default_policy="bypass")
    def verdict(dst, proto="tcp", dport=80):
        return a.process(Port.PLAIN, ethernet(ip_packet(60, HOST_A, dst, proto, dport=dport)))
    assert verdict("10.2.9.1").reason is Reason.POLICY
    assert verdict("10.2.0.1").frame[14 + 9] == 6  # bypassed: still TCP
    assert verdict("10.2.0.1", dport=90).frame[14 + 9] == 50
    assert verdict("10.2.0.1", "udp").frame[14 + 9] == 50
    assert verdict("10.3.0.1").frame[14 + 9] == 6  # default bypass
    fragment = IP(ip_packet(60, HOST_A, "10.2.0.1", "tcp"))
    fragment.frag, fragment.chksum = 100, None
    assert a.process(Port.PLAIN, ethernet(bytes(IP(bytes(fragment))))).frame[14 + 9] == 50  # no ports: protected


def test_ike_is_punted_keepalives_absorbed_and_host_frames_sent():
    a, _ = two_sites()
    def udp(dport, payload, sport=4500):
        return ethernet(bytes(IP(src=ADDR_B, dst=ADDR_A) / UDP(sport=sport, dport=dport) / payload))
    ike = udp(500, b"IKE...", sport=500)
    assert a.process(Port.CIPHER, ike) == Verdict(Port.HOST, ike)
    marker = udp(4500, bytes(4) + b"IKE...")
    assert a.process(Port.CIPHER, marker) == Verdict(Port.HOST, marker)
    assert a.process(Port.CIPHER, udp(4500, b"\xff")).reason is Reason.KEEPALIVE
    assert a.process(Port.CIPHER, udp(4500, b"\1\2\3")).reason is Reason.MALFORMED  # too short for ESP
    assert a.process(Port.HOST, ike) == Verdict(Port.CIPHER, ike)
    assert (a.counters.punted, a.counters.drops[Reason.KEEPALIVE]) == (2, 1)


def test_cleartext_that_must_be_protected_is_dropped():
    a, _ = two_sites()
    cleartext = ethernet(ip_packet(80, HOST_B, HOST_A))
    assert a.process(Port.CIPHER, cleartext).reason is Reason.POLICY


def test_unknown_spi_wrong_encapsulation_and_selector_mismatch():
    a, b = two_sites()
    wire = a.process(Port.PLAIN, ethernet(ip_packet(80, HOST_A, HOST_B))).frame
    unknown = bytearray(wire)
    unknown[14 + 20 : 14 + 24] = (0xDEAD).to_bytes(4, "big")
    assert b.process(Port.CIPHER, bytes(unknown)).reason is Reason.NO_SA
    # the same SA but inside UDP/4500: the SA does not use NAT-T
    ip = IP(wire[14:])
    natt = IP(src=ip.src, dst=ip.dst) / UDP(sport=4500, dport=4500) / bytes(ip.payload)
    assert b.process(Port.CIPHER, ethernet(bytes(natt))).reason is Reason.POLICY
    # an authentic packet whose inner addresses are outside the SA's selectors
    a.spd.policies[0] = Policy("out", Selector(), "protect", SPI_AB)
    stray = a.process(Port.PLAIN, ethernet(ip_packet(80, HOST_A, "10.9.9.9"))).frame
    assert b.process(Port.CIPHER, stray).reason is Reason.POLICY
    assert b.sad.get("in", SPI_AB).counters.packets == 1  # it did authenticate


def sealed_frame(sa, payload_and_trailer: bytes, seq=1):
    """An authentic ESP packet with an arbitrary plaintext (to test trailer checks), sealed with
    `cryptography` directly."""
    iv = seq.to_bytes(8, "big")
    head = struct.pack("!II", sa.spi, seq)
    sealed = AESGCM(sa.key[:-4]).encrypt(sa.key[-4:] + iv, payload_and_trailer, head)
    return ethernet(bytes(IP(src=sa.src, dst=sa.dst, proto=50) / (head + iv + sealed)))


@pytest.mark.parametrize("trailer,reason", [
    (b"\x01\x03\x03\x04", Reason.BAD_PAD),  # pad bytes must be 1, 2, 3
    (b"\x01\x02\xff\x04", Reason.BAD_PAD),  # pad length beyond the payload
    (b"\x00\x00\x00\x3b", Reason.DUMMY),  # next header 59
    (b"\x00\x00\x00\x11", Reason.MALFORMED),  # tunnel mode carries IPv4 (4), not UDP
])
def test_trailer_checks(trailer, reason):
    _, b = two_sites()
    sa = b.sad.get("in", SPI_AB)
    assert b.process(Port.CIPHER, sealed_frame(sa, b"\x45\x00\x00\x00" + trailer)).reason is reason


def test_tfc_padding_after_the_inner_packet_is_removed():
    _, b = two_sites()
    sa = b.sad.get("in", SPI_AB)
    inner = ip_packet(60, HOST_A, HOST_B)
    frame = sealed_frame(sa, inner + bytes(30) + b"\x00\x04")
    assert b.process(Port.CIPHER, frame).frame[14:] == inner


@pytest.mark.parametrize("cut", [1, 4, 20, 30])
def test_truncated_esp_is_malformed_or_fails_authentication(cut):
    a, b = two_sites()
    wire = IP(a.process(Port.PLAIN, ethernet(ip_packet(40, HOST_A, HOST_B))).frame[14:])
    short = IP(src=wire.src, dst=wire.dst, proto=50) / bytes(wire.payload)[:-cut]
    assert b.process(Port.CIPHER, ethernet(bytes(short))).reason in (Reason.MALFORMED, Reason.AUTH_FAIL)


def test_lifetimes_raise_events_and_stop_the_sa():
    a, _ = two_sites(lifetime=Lifetime(soft_packets=3, hard_packets=5, soft_bytes=10**9, hard_bytes=10**9))
    sa = a.sad.get("out", SPI_AB)
    verdicts = [a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B))) for _ in range(7)]
    assert [v.port is Port.CIPHER for v in verdicts] == [True] * 5 + [False] * 2
    assert verdicts[-1].reason is Reason.SA_EXPIRED
    assert [e for e, s in a.events if s is sa] == [Event.SOFT_LIFETIME, Event.HARD_LIFETIME]


def test_byte_lifetime_counts_protected_bytes():
    a, _ = two_sites(lifetime=Lifetime(hard_bytes=300))
    sent = [a.process(Port.PLAIN, ethernet(ip_packet(100, HOST_A, HOST_B))).port for _ in range(4)]
    assert sent == [Port.CIPHER] * 3 + [None]


@pytest.mark.parametrize("esn", [False, True])
def test_sequence_numbers_never_wrap(esn):
    a, b = two_sites(esn=esn)
    out_sa, in_sa = a.sad.get("out", SPI_AB), b.sad.get("in", SPI_AB)
    out_sa.seq = in_sa.window.top = out_sa.seq_max - 2
    frames = [a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B))) for _ in range(3)]
    assert [f.port for f in frames] == [Port.CIPHER, Port.CIPHER, None]
    assert (Event.SEQ_EXHAUSTED, out_sa) in a.events and out_sa.seq == out_sa.seq_max
    assert [b.process(Port.CIPHER, f.frame).port for f in frames[:2]] == [Port.PLAIN] * 2


@pytest.mark.parametrize("esn,start", [(False, 0), (False, 1000), (False, (1 << 32) - 2), (True, (1 << 32) - 2),
                                       (True, (1 << 64) - 2)])
def test_an_outbound_sa_taken_over_at_replay_oseq(esn, start):
    """An outbound SA configured with replay_oseq N (Linux: `replay-oseq`) sends N + 1 first,
    in the ESP header (low half) and the IV (all 64 bits, RFC 4106 §3), and stops after the last
    number (RFC 4303 §3.3.3); its peer, taking over at replay_seq N, takes what it sends."""
    a, b = two_sites(esn=esn)
    out, peer = a.sad.get("out", SPI_AB), b.sad.get("in", SPI_AB)
    for site, old, field in ((a, out, "replay_oseq"), (b, peer, "replay_seq")):
        new = SecurityAssociation.from_config(replace(old, **{field: start}))
        site.sad.delete(old.dir, old.spi)
        site.sad.add(new)
    sa = a.sad.get("out", SPI_AB)
    sent = []
    for _ in range(3):
        verdict = a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B)))
        if verdict.port is Port.CIPHER:
            esp = verdict.frame[34:]
            sent.append(int.from_bytes(esp[8:16], "big"))
            assert int.from_bytes(esp[4:8], "big") == sent[-1] & 0xFFFFFFFF
            assert b.process(Port.CIPHER, verdict.frame).port is Port.PLAIN
    expected = [n for n in range(start + 1, start + 4) if n <= sa.seq_max]
    assert sent == expected and sa.dead == (start + 3 > sa.seq_max)
    assert ((Event.SEQ_EXHAUSTED, sa) in a.events) == sa.dead


def test_sa_lifecycle_zeroizes_keys():
    a, _ = two_sites()
    old = a.sad.get("out", SPI_AB)
    key = old.key
    with pytest.raises(ValueError, match="already exists"):
        a.sad.add(old)
    a.sad.delete("out", SPI_AB)
    assert old.key == bytes(len(key)) and a.sad.get("out", SPI_AB) is None
    assert a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B))).reason is Reason.NO_SA
    a.sad.flush()
    assert len(a.sad) == 0
    with pytest.raises(KeyError, match="spi"):
        a.sad.delete("out", SPI_AB)


def test_update_keeps_key_sequence_window_and_counters():
    """An update (as `ip xfrm state update`) rewrites TTL, DF, addresses, NAT-T and lifetimes in
    place; the sequence numbers continue and a frame accepted before is a replay after."""
    a, b = two_sites()
    out_sa, in_sa = a.sad.get("out", SPI_AB), b.sad.get("in", SPI_AB)
    before = [a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B, seed=i))).frame for i in range(3)]
    assert [b.process(Port.CIPHER, f).port for f in before] == [Port.PLAIN] * 3
    changes = dict(ttl=9, df="set", lifetime=Lifetime(hard_packets=100))
    assert a.sad.update(replace(out_sa, **changes)) is out_sa
    assert b.sad.update(replace(in_sa, **changes)) is in_sa
    assert (out_sa.ttl, out_sa.seq, out_sa.counters.packets) == (9, 3, 3)
    after = a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B))).frame
    assert int.from_bytes(after[38:42], "big") == 4 and after[22] == 9  # ESP sequence number, outer TTL
    assert b.process(Port.CIPHER, before[0]).reason is Reason.REPLAY
    assert b.process(Port.CIPHER, after).port is Port.PLAIN and in_sa.counters.packets == 4


@pytest.mark.parametrize("change,word", [
    (dict(key=bytes(range(20))), "key"), (dict(key=bytes(36)), "key"), (dict(mode="transport"), "mode"),
    (dict(esn=True), "esn"), (dict(icv_bits=64), "icv"), (dict(replay_window=64), "replay_window"),
])
def test_update_refuses_what_makes_a_new_sa(change, word):
    a, _ = two_sites()
    sa = a.sad.get("out", SPI_AB)
    a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B)))
    with pytest.raises(ValueError, match=rf"^{word}: an update cannot change it"):
        a.sad.update(replace(sa, **change))
    assert a.sad.get("out", SPI_AB) is sa and sa.seq == 1 and sa.mode == "tunnel"
    with pytest.raises(KeyError, match="does not exist"):
        a.sad.update(replace(sa, spi=SPI_AB + 1))


def test_garbage_never_crashes_and_every_frame_is_accounted():
    a, b = two_sites()
    rng = random.Random(7)
    good = [a.process(Port.PLAIN, ethernet(ip_packet(rng.randint(28, 1500), HOST_A, HOST_B))).frame
            for _ in range(50)]
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.3:
            frame = rng.randbytes(rng.randint(0, 200))
        elif kind < 0.6:  # a valid header followed by garbage
            frame = ethernet(bytes(IP(src=ADDR_B, dst=ADDR_A, proto=rng.choice((50, 17, 6)))
                                   / rng.randbytes(rng.randint(0, 100))))
        else:  # a good packet, possibly cut or with random bytes changed
            frame = bytearray(rng.choice(good))
            for _ in range(rng.randint(0, 3)):
                frame[rng.randrange(len(frame))] = rng.randrange(256)
            frame = bytes(frame[: rng.randint(0, len(frame))] if rng.random() < 0.3 else frame)
        b.process(rng.choice(list(Port)), frame)
    assert accounted(a, b) and b.counters.received == 3000
    assert b.process(Port.CIPHER, a.process(Port.PLAIN, ethernet(ip_packet(99, *hosts("tunnel")))).frame).port \
        is Port.PLAIN


def test_make_before_break_rekey_drops_nothing():
    """RFC 4301 §4.4.2.1 rekey: the new inbound SA first, then the outbound policy moves to the
    new SA, and the old SAs go only once packets in flight on them have arrived."""
    a, b = two_sites()
    old_out, old_in = a.sad.get("out", SPI_AB), b.sad.get("in", SPI_AB)
    new_key = bytes(range(20))
    params = dict(src=old_out.src, dst=old_out.dst, mode="tunnel", key=new_key)
    in_flight = [a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B, seed=i))).frame for i in range(3)]
    b.sad.add(SecurityAssociation(spi=0x3000, dir="in", **params))
    b.spd.add(Policy("in", next(p for p in b.spd.policies if p.dir == "in").selector, "protect", 0x3000))
    a.sad.add(SecurityAssociation(spi=0x3000, dir="out", **params))
    old_policy = next(p for p in a.spd.policies if p.dir == "out")
    a.spd.replace(old_policy, Policy("out", old_policy.selector, "protect", 0x3000))
    after = [a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B, seed=i))).frame for i in range(3)]
    assert {int.from_bytes(f[34:38], "big") for f in after} == {0x3000}
    # the new SA's packets overtake the old ones on the wire: both still arrive
    assert [b.process(Port.CIPHER, f).port for f in after + in_flight] == [Port.PLAIN] * 6
    a.sad.delete("out", SPI_AB)
    b.sad.delete("in", SPI_AB)
    assert old_out.key == old_in.key == bytes(20)
    assert b.process(Port.CIPHER, a.process(Port.PLAIN, ethernet(ip_packet(64, HOST_A, HOST_B))).frame).port \
        is Port.PLAIN
