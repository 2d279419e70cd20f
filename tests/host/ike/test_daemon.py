"""Two `espline ike` daemons in one process, each programming a reference-model appliance
(`ike_env`): IKE_SA_INIT and IKE_AUTH, Child SA and IKE SA rekeys, DELETE, liveness checks,
retransmission, NAT-T, and a wrong PSK refused on both sides. A Child SA counts as working when
LAN packets cross both appliances unchanged, each way: the keys match crosswise."""

import logging
import random

import pytest
from ike_env import Sites, connection

from espline.config import Build
from espline.host.ike.frames import Datagram, build_frame
from espline.host.ike.message import COOKIE, Message, Notify, decode, encode
from espline.sim.model import Port
from espline.sim.traffic import ethernet, ip_packet


def established(sites):
    sites.daemons["a"].initiate("site")
    sites.pump()
    assert len(sites.children("a")) == len(sites.children("b")) == 1
    return sites


def test_child_keys_match_crosswise():
    sites = established(Sites())
    a, b = sites.children("a")[0], sites.children("b")[0]
    assert (a.spi_in, a.spi_out, a.key_in, a.key_out) == (b.spi_out, b.spi_in, b.key_out, b.key_in)
    assert a.key_in != a.key_out and len(a.key_in) == 20 and a.esn  # AES-128 key and salt, ESN negotiated
    assert sites.traffic_flows()


@pytest.mark.parametrize("ike,esp", [("aes256gcm16-prfsha256-ecp256", "aes256gcm16-noesn"),
                                     ("aes128-sha256-modp2048", "aes128gcm16-esn"),
                                     ("aes256gcm16-prfsha256-curve25519", "aes128gcm16-esn-curve25519")])
def test_algorithms(ike, esp):
    sites = established(Sites(connection("a", ike=ike, esp=esp), connection("b", ike=ike, esp=esp)))
    assert sites.traffic_flows()
    assert len(sites.children("a")[0].key_in) == (36 if "aes256gcm16-noesn" in esp else 20)


def test_responder_asks_for_another_group():
    """The initiator's first group is not the responder's: INVALID_KE_PAYLOAD, then a retry (§1.2)."""
    a = connection("a", ike="aes128gcm16-prfsha256-curve25519-ecp256")
    b = connection("b", ike="aes128gcm16-prfsha256-ecp256")
    sites = established(Sites(a, b))
    assert next(iter(sites.daemons["a"].sas.values())).suite.dh == 19
    assert sites.traffic_flows()


def test_no_common_proposal_refused():
    sites = Sites(connection("a", ike="aes128gcm16-prfsha256-curve25519"),
                  connection("b", ike="aes256gcm16-prfsha256-curve25519"))
    sites.daemons["a"].initiate("site")
    sites.pump()
    assert not sites.daemons["a"].sas and not sites.daemons["b"].sas


@pytest.mark.parametrize("initiator", ["a", "b"])
def test_wrong_psk_refused_on_both_sides(initiator, caplog):
    caplog.set_level(logging.INFO, logger="espline.ike")
    sites = Sites(connection("a"), connection("b", psk="not-the-secret"))
    sites.daemons[initiator].initiate("site")
    sites.pump()
    assert not sites.children("a") and not sites.children("b")
    assert not sites.daemons["a"].sas and not sites.daemons["b"].sas
    assert not sites.devices["a"].sas.count(None) < len(sites.devices["a"].sas)  # nothing programmed
    assert "failed authentication" in caplog.text  # the responder refused the initiator's AUTH
    assert "refused our authentication" in caplog.text  # and the initiator heard so
    assert sites.send("a") is None


@pytest.mark.parametrize("rekeyer", ["a", "b"])
def test_child_rekey_make_before_break(rekeyer):
    sites = established(Sites())
    old = sites.children(rekeyer)[0]
    lost = []
    sa = next(iter(sites.daemons[rekeyer].sas.values()))

    def check_each_frame(frame):  # traffic both ways between every two frames of the rekey
        for s in "ab":
            if sites.send(s, seed=len(lost)) is None:
                lost.append(s)
        return False
    for s in "ab":
        sites.links[s].drop = check_each_frame
    sa.rekey_child(old)
    sites.pump()
    for s in "ab":
        sites.links[s].drop = None
    assert lost == []
    a, b = sites.children("a"), sites.children("b")
    assert len(a) == len(b) == 1 and a[0].spi_in != old.spi_in and old.spi_in not in (b[0].spi_in, b[0].spi_out)
    assert (a[0].key_in, a[0].key_out) == (b[0].key_out, b[0].key_in)
    for s in "ab":  # the old SAs are gone from both appliances, the new ones in
        assert sorted(sa.spi for sa in sites.devices[s].sas if sa) == sorted(
            [sites.children(s)[0].spi_in, sites.children(s)[0].spi_out])
        assert len(sites.devices[s].policies) == 2
    assert sites.traffic_flows(seed=7)


def test_child_rekey_on_time():
    sites = established(Sites())
    old = sites.children("a")[0].spi_in
    sites.advance(3600 + 5, step=5)
    assert sites.children("a")[0].spi_in != old
    assert sites.traffic_flows()


def test_child_rekey_on_soft_lifetime_event():
    sites = established(Sites(connection("a", child={"rekey_packets": 3, "life_packets": 100}), connection("b")))
    old = sites.children("a")[0].spi_out
    for i in range(3):
        assert sites.send("a", seed=i) is not None
    sites.advance(0.1, step=0.1)
    assert sites.children("a")[0].spi_out == old and 0 < sites.children("a")[0].rekey_at - sites.clock.t <= 2
    sites.advance(2.1, step=0.1)  # the rekey comes within 2 s of the event
    assert sites.children("a")[0].spi_out != old
    assert sites.traffic_flows()


def test_ike_rekey_keeps_children():
    no_child_rekey = {"rekey_time": 0}
    sites = established(Sites(connection("a", child=no_child_rekey), connection("b", child=no_child_rekey)))
    before = [(c.spi_in, c.spi_out) for c in sites.children("a")]
    old_spis = set(sites.daemons["a"].sas)
    sites.advance(4 * 3600 + 5, step=60)
    assert set(sites.daemons["a"].sas).isdisjoint(old_spis) and len(sites.daemons["a"].sas) == 1
    assert len(sites.daemons["b"].sas) == 1
    assert [(c.spi_in, c.spi_out) for c in sites.children("a")] == before
    assert sites.traffic_flows()
    new = next(iter(sites.daemons["a"].sas.values()))
    new.rekey_child(new.children[0])  # the new IKE SA's SK_d derives keys both sides agree on
    sites.pump()
    assert sites.traffic_flows(seed=3)


def test_delete_removes_both_sides():
    sites = established(Sites())
    next(iter(sites.daemons["b"].sas.values())).delete()
    sites.pump()
    assert not sites.daemons["a"].sas and not sites.daemons["b"].sas
    for s in "ab":
        assert not any(sites.devices[s].sas) and not sites.devices[s].policies
    assert sites.send("a") is None


def test_dead_peer_detected():
    sites = established(Sites(connection("a", dpd_delay="30s"), connection("b")))
    sites.advance(31)
    assert sites.children("a")  # the peer answered the liveness check
    sites.links["b"].drop = lambda frame: True  # the peer dies
    del sites.daemons["b"]  # nothing there to answer
    sites.links["a"].drop = lambda frame: True
    sites.advance(30 + 4 * (1 + 1.8 + 1.8 ** 2 + 1.8 ** 3 + 1.8 ** 4 + 1.8 ** 5) + 1, step=1)
    assert not sites.daemons["a"].sas
    assert not any(sites.devices["a"].sas) and not sites.devices["a"].policies


def test_retransmission_and_duplicate_requests():
    """The first IKE_AUTH request is lost: retransmitted after 4 s; a response lost: the request
    retransmitted and answered again from the responder's cache (§2.1)."""
    sites = Sites()
    lost = []
    sites.links["a"].drop = lambda f: not lost and not lost.append(f)  # the very first frame: IKE_SA_INIT
    sites.daemons["a"].initiate("site")
    sites.pump()
    assert not sites.children("a")
    sites.links["a"].drop = None
    answered = []
    sites.links["b"].drop = lambda f: not answered and not answered.append(f)  # the first response lost
    sites.advance(4)
    sites.advance(4 * 1.8 + 1)
    assert sites.children("a") and sites.children("b")
    assert sites.traffic_flows()


def test_nat_t_encapsulation():
    """`encap` fakes a NAT (as strongSwan's kernel-libipsec does): both move to UDP 4500 with the
    non-ESP marker, and the Child SAs are ESP in UDP (RFC 3948)."""
    sites = established(Sites(connection("a"), connection("b", encap=True)))
    for s in "ab":
        assert sites.children(s)[0].encap == (4500, 4500)
        assert all(sa.encap is not None for sa in sites.devices[s].sas if sa)
    auth = sites.links["a"].wire[1]
    assert auth[14 + 20: 14 + 22] == (4500).to_bytes(2, "big") and auth[14 + 28: 14 + 32] == bytes(4)
    assert decode(auth[14 + 32:]).exchange == 35
    assert sites.traffic_flows()
    frame = sites.devices["a"].model.process(Port.PLAIN, ethernet(ip_packet(100, "10.1.0.1", "10.2.0.1")))
    assert frame.frame[14 + 9] == 17 and frame.frame[14 + 22: 14 + 24] == (4500).to_bytes(2, "big")


def test_nat_mapping_moves_and_the_sas_follow():
    """The peer's IKE messages come from another port (its NAT rebinding): responses go there and
    the Child SAs' UDP ports are updated in place in the appliance (§2.23, RFC 3948)."""
    sites = established(Sites(connection("a"), connection("b", encap=True)))
    b = next(iter(sites.daemons["b"].sas.values()))
    b.local_port = 4501  # B's messages now leave from 4501, as after a NAT's new mapping
    b.request(37, [], lambda m: None)  # a liveness check
    sites.pump()
    a_child = sites.children("a")[0]
    assert a_child.encap == (4500, 4501)
    out = next(sa for sa in sites.devices["a"].sas if sa and sa.dir == "out")
    assert (out.encap.sport, out.encap.dport) == (4500, 4501) and ("update_sa", "out", out.spi) in \
        sites.devices["a"].writes
    frame = sites.devices["a"].model.process(Port.PLAIN, ethernet(ip_packet(100, "10.1.0.1", "10.2.0.1"))).frame
    assert frame[14 + 22: 14 + 24] == (4501).to_bytes(2, "big")  # ESP now goes to the new port


def test_hostile_frames_are_logged_not_raised(caplog):
    caplog.set_level(logging.INFO, logger="espline.ike")
    sites = established(Sites())
    d = sites.daemons["b"]
    good = sites.links["a"].wire[1]
    for frame in (b"", good[:40], good[:-1], good[:14] + b"\x46" + good[15:], good + b"\0" * 3,
                  good[:-20] + bytes(20)):
        d.receive(frame)
    assert "dropped" in caplog.text
    assert sites.traffic_flows()


def test_simultaneous_child_rekeys_settle_on_one_child():
    """Both sides rekey the same Child SA at once: each answers the other TEMPORARY_FAILURE
    (§2.25) and retries after its own random delay; one new Child SA results, traffic flows."""
    sites = established(Sites())
    before = sites.children("a")[0].spi_in
    for s in "ab":
        sa = next(iter(sites.daemons[s].sas.values()))
        sa.rekey_child(sa.children[0])
    sites.pump()
    assert all(c.rekeying is False for s in "ab" for c in sites.children(s))
    sites.advance(25)
    a, b = sites.children("a"), sites.children("b")
    assert len(a) == len(b) == 1 and (a[0].spi_in, a[0].spi_out) == (b[0].spi_out, b[0].spi_in)
    assert a[0].spi_in != before
    assert len([sa for sa in sites.devices["a"].sas if sa]) == 2
    assert sites.traffic_flows()


def test_a_full_appliance_refuses_the_child_sa_cleanly(caplog):
    """Site B's SPD table holds one policy: its Child SA cannot be programmed. B answers
    TEMPORARY_FAILURE and removes what it had programmed; the IKE SA stays up on both sides."""
    caplog.set_level(logging.INFO, logger="espline.ike")
    sites = Sites(build_b=Build(n_sa=64, n_policy=1))
    sites.daemons["a"].initiate("site")
    sites.pump()
    assert not sites.children("a") and not sites.children("b")
    assert "the appliance refused" in caplog.text and "notify [43]" in caplog.text
    assert not any(sites.devices["b"].sas) and not sites.devices["b"].policies
    assert not any(sites.devices["a"].sas)
    assert [sa.state for sa in sites.daemons["a"].sas.values()] == ["established"]


def test_half_open_responder_sa_forgotten():
    """An IKE_SA_INIT whose IKE_AUTH never comes: the responder forgets it after 30 s (§2.4)."""
    sites = Sites()
    sites.links["a"].drop = lambda frame: len(frame) > 0 and sites.daemons["b"].sas != {}  # IKE_AUTH lost
    sites.daemons["a"].initiate("site")
    sites.pump()
    assert [sa.state for sa in sites.daemons["b"].sas.values()] == ["auth"]
    sites.advance(29)
    assert sites.daemons["b"].sas
    sites.advance(2)
    assert not sites.daemons["b"].sas and not sites.daemons["b"].half_open


def test_cookie_asked_and_returned():
    """A responder over its half-open threshold answers COOKIE (§2.6); the initiator repeats its
    IKE_SA_INIT with the cookie first and the same KE and nonce; then all is as ever."""
    b = connection("b")
    b["ike"]["cookie_threshold"] = 0
    sites = Sites(connection("a"), b)
    sites.daemons["a"].initiate("site")
    assert sites.pump() == 6  # COOKIE, then INIT and AUTH
    init, again = (decode(f[14 + 28:]) for f in sites.links["a"].wire[:2])
    assert again.payloads[0].type == 16390 and again.payloads[1:] == init.payloads
    assert sites.traffic_flows()


def test_forged_cookie_refused():
    """An IKE_SA_INIT with a cookie the responder did not make gets a COOKIE answer, no IKE SA."""
    b = connection("b")
    b["ike"]["cookie_threshold"] = 0
    sites = Sites(connection("a"), b)
    sites.links["a"].drop = lambda frame: True  # A's own attempt never arrives
    sites.daemons["a"].initiate("site")
    first = decode(sites.links["a"].wire[0][14 + 28:])
    forged = Message(first.spi_i, bytes(8), first.exchange, first.flags, 0,
                     [Notify(COOKIE, data=b"\0\0\0\1" + bytes(32))] + first.payloads)
    sent = len(sites.links["b"].wire)
    sites.daemons["b"].receive(build_frame(Datagram("192.0.2.1", "198.51.100.2", 500, 500, encode(forged)),
                                           b"\2" * 6, b"\4" * 6))
    assert not sites.daemons["b"].sas
    answer = decode(sites.links["b"].wire[sent][14 + 28:])
    assert [p.type for p in answer.payloads] == [COOKIE] and answer.payloads[0].data != forged.payloads[0].data


def test_unsupported_critical_payload_in_a_request_is_answered():
    """An authentic request carrying an unknown payload marked critical is answered with
    UNSUPPORTED_CRITICAL_PAYLOAD naming its type (§2.5); the IKE SA goes on."""
    from espline.host.ike.message import INFORMATIONAL, UNSUPPORTED_CRITICAL_PAYLOAD, Unknown
    sites = established(Sites())
    a = next(iter(sites.daemons["a"].sas.values()))
    answers = []
    a.request(INFORMATIONAL, [Unknown(99, True, b"x")], answers.append)
    sites.pump()
    assert [(n.type, n.data) for n in answers[0].payloads] == [(UNSUPPORTED_CRITICAL_PAYLOAD, bytes([99]))]
    a.request(INFORMATIONAL, [Unknown(99, False, b"x")], answers.append)  # not critical: ignored (§3.2)
    sites.pump()
    assert answers[1].payloads == [] and sites.traffic_flows()


def test_pfs_rekey_follows_invalid_ke():
    """A's PFS rekey offers ECP-256 first, B takes only Curve25519: INVALID_KE_PAYLOAD, then A
    rekeys again with Curve25519 (§1.3)."""
    sites = established(Sites(connection("a", esp="aes128gcm16-esn-ecp256-curve25519"),
                              connection("b", esp="aes128gcm16-esn-curve25519")))
    old = sites.children("a")[0].spi_in
    sa = next(iter(sites.daemons["a"].sas.values()))
    sa.rekey_child(sa.children[0])
    sites.pump()
    new = sites.children("a")[0]
    assert new.spi_in != old and new.suite.dh == 31
    assert sites.traffic_flows()


def test_fuzzed_frames_never_reach_an_internal_error(caplog):
    """Seeded mutations of every frame of a whole run (INIT, AUTH, rekeys, DPD, DELETE) fed to
    both daemons: each is dropped with a reason or handled; none ends in an internal error (a
    Python exception the daemon had to catch), and the SAs still work afterwards."""
    caplog.set_level(logging.INFO, logger="espline.ike")
    sites = Sites(connection("a", dpd_delay="10s"), connection("b"))
    sites.daemons["a"].initiate("site")
    sites.pump()
    sa = next(iter(sites.daemons["a"].sas.values()))
    sa.rekey_child(sa.children[0])
    sites.pump()
    sites.advance(11)
    frames = {s: list(sites.links[s].wire) for s in "ab"}
    rng = random.Random(2323)
    for _ in range(1500):
        src = rng.choice("ab")
        frame = bytearray(rng.choice(frames[src]))
        for _ in range(rng.randint(1, 4)):
            frame[rng.randrange(14, len(frame))] = rng.randrange(256)
        if rng.random() < 0.2:
            frame = frame[:rng.randrange(len(frame))]
        sites.daemons["b" if src == "a" else "a"].receive(bytes(frame))
    assert "internal error" not in caplog.text
    sites.pump()
    assert sites.traffic_flows(seed=5)


def test_configured_ports():
    """local_port (swanctl.conf's): IKE from that port, the responder answering to it; no NAT seen."""
    sites = established(Sites(connection("a", local_port=501), connection("b")))
    ports = [(int.from_bytes(f[34:36], "big"), int.from_bytes(f[36:38], "big"))
             for f in (sites.links["a"].wire[0], sites.links["b"].wire[0])]
    assert ports == [(501, 500), (500, 501)]
    assert sites.children("b")[0].encap is None
    assert sites.traffic_flows()


def test_rekey_responder_switches_over_when_the_old_child_expires():
    """B answers A's rekey, but A's DELETE of the old Child SA is lost and the old one reaches its
    hard lifetime at B first: B deletes it itself, moving its outbound traffic to the new Child SA
    before the old one's policies go."""
    no_timed_rekey = {"rekey_time": 0, "life_time": "66m"}
    sites = established(Sites(connection("a", child=no_timed_rekey), connection("b", child=no_timed_rekey)))
    a = next(iter(sites.daemons["a"].sas.values()))
    old = sites.children("b")[0]
    sites.clock.t += 600  # the rekey comes later than the old Child SA's start
    n = len(sites.links["a"].wire)
    # A's requests after its CREATE_CHILD_SA (its DELETE and the retransmissions) are lost; its responses pass
    sites.links["a"].drop = lambda frame: len(sites.links["a"].wire) >= n + 2 and not frame[14 + 28 + 19] & 0x20
    a.rekey_child(a.children[0])
    sites.pump()
    new = next(c for c in sites.children("b") if c is not old)
    assert not new.outbound  # B waits for A's DELETE
    sites.clock.t = old.expire_at - 0.5
    sites.advance(1, step=1)
    assert new.outbound and sites.children("b") == [new]
    assert sites.traffic_flows()


def test_a_second_child_sa_by_create_child_sa():
    """A connection with two children: the first comes with IKE_AUTH, the second by CREATE_CHILD_SA
    (§1.3.1); each carries its own selectors' traffic, and rekeys on its own."""
    def two(me):
        config = connection(me)
        other = "b" if me == "a" else "a"
        nets = {"a": "10.11.0.0/16", "b": "10.12.0.0/16"}
        config["ike"]["connections"]["site"]["children"]["mgmt"] = {
            "local_ts": [nets[me]], "remote_ts": [nets[other]], "esp_proposals": ["aes256gcm16-esn"]}
        return config
    sites = Sites(two("a"), two("b"))
    sites.daemons["a"].initiate("site")
    sites.pump()
    assert sorted(c.name for c in sites.children("a")) == sorted(c.name for c in sites.children("b")) == ["mgmt", "net"]

    def crosses(src, dst):
        frame = ethernet(ip_packet(120, src, dst))
        out = sites.devices["a"].model.process(Port.PLAIN, frame)
        return out.port is Port.CIPHER and sites.devices["b"].model.process(Port.CIPHER, out.frame).frame == frame
    assert crosses("10.11.0.1", "10.12.0.1") and sites.traffic_flows()
    assert not crosses("10.11.0.1", "10.2.0.1")  # no child covers it: the appliance discards it
    mgmt = next(c for c in sites.children("a") if c.name == "mgmt")
    assert len(mgmt.key_out) == 36  # its own proposal: AES-256
    sa = next(iter(sites.daemons["a"].sas.values()))
    sa.rekey_child(mgmt)
    sites.pump()
    assert mgmt not in sites.children("a") and crosses("10.11.0.1", "10.12.0.1") and sites.traffic_flows()


def test_simultaneous_ike_rekeys_settle_on_one_ike_sa():
    """Both sides rekey the IKE SA at once: TEMPORARY_FAILURE both ways (§2.25), each retries
    after its own random delay; one new IKE SA on each side, the Child SA carried over."""
    sites = established(Sites())
    child = sites.children("a")[0].spi_in
    old = {s: set(sites.daemons[s].sas) for s in "ab"}
    for s in "ab":
        next(iter(sites.daemons[s].sas.values())).rekey_ike()
    sites.pump()
    assert {s: set(sites.daemons[s].sas) for s in "ab"} == old  # both refused
    sites.advance(25)
    for s in "ab":
        assert len(sites.daemons[s].sas) == 1 and set(sites.daemons[s].sas).isdisjoint(old[s])
    assert [c.spi_in for c in sites.children("a")] == [child] and sites.traffic_flows()
