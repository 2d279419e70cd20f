"""Traffic selectors (RFC 7296 §2.9) and identities (§3.5): narrowing and the initiator's
check against explicit cases, every identity form there and back."""

import ipaddress

import pytest

from espline.config.ike import TrafficSelector as Configured
from espline.host.ike.identity import id_text, identification
from espline.host.ike.message import ID_FQDN, ID_IPV4_ADDR, ID_KEY_ID, ID_RFC822_ADDR, TrafficSelector
from espline.host.ike.selectors import narrow, ts_of, ts_text, within


def ts(net: str, proto: int = 0, ports=(0, 65535)) -> TrafficSelector:
    n = ipaddress.IPv4Network(net)
    return TrafficSelector(proto, ports[0], ports[1], int(n.network_address), int(n.broadcast_address))


def test_configured_selectors_as_ranges():
    assert ts_of([Configured("10.1.0.0/16"), Configured("10.9.0.7/32", 6, (80, 80))]) == [
        ts("10.1.0.0/16"), ts("10.9.0.7/32", 6, (80, 80))]


@pytest.mark.parametrize("proposed,allowed,result", [
    ([ts("10.0.0.0/8")], [ts("10.1.0.0/16")], [ts("10.1.0.0/16")]),           # the responder's is narrower
    ([ts("10.1.2.0/24")], [ts("10.1.0.0/16")], [ts("10.1.2.0/24")]),          # the initiator's is narrower
    ([ts("10.1.0.0/16", 6)], [ts("10.1.0.0/16")], [ts("10.1.0.0/16", 6)]),    # a protocol narrows "any"
    ([ts("10.1.0.0/16", 6)], [ts("10.1.0.0/16", 17)], []),                    # protocols differ
    ([ts("10.1.0.0/16", 6, (1, 100))], [ts("10.1.0.0/16", 6, (80, 443))], [ts("10.1.0.0/16", 6, (80, 100))]),
    ([ts("10.2.0.0/16")], [ts("10.1.0.0/16")], []),                           # no overlap
])
def test_narrowing(proposed, allowed, result):
    assert narrow(proposed, allowed) == result


def test_initiator_accepts_only_what_lies_within_its_proposal():
    assert within([ts("10.1.2.0/24")], [ts("10.1.0.0/16")])
    assert not within([ts("10.0.0.0/8")], [ts("10.1.0.0/16")])
    assert not within([ts("10.1.0.0/16")], [ts("10.1.0.0/16", 6)])  # "any" is wider than TCP
    assert not within([], [ts("10.1.0.0/16")])


def test_selectors_in_the_log():
    assert ts_text([ts("10.1.0.0/16"), ts("10.9.0.7/32", 6, (80, 80))]) == "10.1.0.0/16 10.9.0.7/32[6/80-80]"


@pytest.mark.parametrize("text,kind,data", [
    ("192.0.2.1", ID_IPV4_ADDR, bytes([192, 0, 2, 1])), ("site-a.example", ID_FQDN, b"site-a.example"),
    ("admin@site-a.example", ID_RFC822_ADDR, b"admin@site-a.example"), ("@#0a0b", ID_KEY_ID, b"\n\x0b")])
def test_identities_there_and_back(text, kind, data):
    p = identification(text, True)
    assert (p.id_type, p.data) == (kind, data) and id_text(p) == text
