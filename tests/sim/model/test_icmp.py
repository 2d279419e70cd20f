"""ICMP "fragmentation needed" for too-big packets (RFC 792, RFC 1191 §4, RFC 4301 §8.1): the
answer checked against scapy's, the next-hop MTU against encapsulation itself, the exclusions of
RFC 1122 §3.2.2 and the frame-counted rate limit."""

import pytest
from scapy.layers.inet import ICMP, IP, TCP, IPOption
from scapy.layers.l2 import Dot1Q, Ether

from espline.sim.model import Appliance, Policy, Port, Reason, Selector
from espline.sim.model.icmp import next_hop_mtu
from espline.sim.sites import ADDR_A, two_sites

MAC_HOST, MAC_ROUTER = "02:00:00:00:00:05", "02:00:00:00:00:01"


def site(mtu: int, mode: str = "tunnel", natt: bool = False, icv: int = 16, **limit) -> Appliance:
    """Site A of `two_sites`, its outbound SA protecting everything, with `mtu`."""
    a, _ = two_sites(mode, natt=natt, icv=icv)
    sa = next(s for s in a.sad if s.dir == "out")
    return Appliance([sa], [Policy("out", Selector(), "protect", sa.spi)], mtu=mtu, **limit)


def packet(size: int, *, src="10.1.0.5", dst="10.2.0.9", df=True, options=b"", l4=None) -> IP:
    ip = IP(src=src, dst=dst, flags="DF" if df else 0, id=7, ttl=33,
            options=[IPOption(options)] if options else [])
    ip = ip / (l4 if l4 is not None else TCP(sport=40000, dport=5001, flags="A", seq=0x01020304))
    return IP(bytes(ip / bytes(size - len(ip))))


def frame(ip: IP, vlan=None) -> bytes:
    eth = Ether(src=MAC_HOST, dst=MAC_ROUTER)
    return bytes(eth / Dot1Q(vlan=vlan) / ip if vlan is not None else eth / ip)


def expected(ip: IP, mtu: int, src: str, vlan=None) -> bytes:
    """The answer as scapy builds it: checksums, lengths and the quote (header + 8 bytes) its own."""
    quote = bytes(ip)[: ip.ihl * 4 + 8]  # RFC 792: the internet header + 64 bits of data
    eth = Ether(src=MAC_ROUTER, dst=MAC_HOST)
    answer = IP(src=src, dst=ip.src, ttl=64, id=0, flags=0) / ICMP(type=3, code=4, nexthopmtu=mtu) / quote
    return bytes(eth / Dot1Q(vlan=vlan) / answer if vlan is not None else eth / answer)


CASES = [("tunnel", False, 16), ("tunnel", True, 8), ("tunnel", False, 12), ("transport", False, 16),
         ("transport", True, 12)]


@pytest.mark.parametrize("mode,natt,icv", CASES)
@pytest.mark.parametrize("mtu", [576, 1500, 1501, 1502, 1503])
def test_next_hop_mtu_is_the_largest_packet_that_fits(mode, natt, icv, mtu):
    """The formula against encapsulation itself: a packet of the next-hop MTU passes, one byte
    more is dropped too-big."""
    for options in (b"", b"\x01\x01\x01\x00" * 3):
        size = next_hop_mtu(next(iter(site(mtu, mode, natt, icv).sad)), mtu, 20 + len(options))
        for n, fits in ((size, True), (size + 1, False)):
            a = site(mtu, mode, natt, icv)
            ip = packet(n, **({"src": ADDR_A, "dst": "198.51.100.2"} if mode == "transport" else {}), options=options)
            v = a.process(Port.PLAIN, frame(ip))
            assert (v.port is Port.CIPHER) == fits and (fits or v.reason is Reason.TOO_BIG)


@pytest.mark.parametrize("mode,natt,icv", CASES)
@pytest.mark.parametrize("vlan,options", [(None, b""), (42, b"\x01\x01\x01\x00" * 2), (7, b"\x01\x01\x01\x00" * 10)])
def test_answer_is_scapy_s_frag_needed(mode, natt, icv, vlan, options):
    a = site(1400, mode, natt, icv)
    sa = next(iter(a.sad))
    addrs = {"src": ADDR_A, "dst": "198.51.100.2"} if mode == "transport" else {}
    ip = packet(1400, options=options, **addrs)
    v = a.process(Port.PLAIN, frame(ip, vlan))
    assert v.port is None and v.reason is Reason.TOO_BIG
    source = ADDR_A if mode == "tunnel" else ip.dst  # the tunnel endpoint / the peer (docs/model.md)
    want = expected(ip, next_hop_mtu(sa, 1400, ip.ihl * 4), source, vlan)
    assert v.answer == want
    got = Ether(v.answer)
    ours = got[IP]
    assert IP(bytes(ours)).chksum == ours.chksum and ICMP(bytes(ours[ICMP])).chksum == ours[ICMP].chksum
    assert a.counters.as_dict()["icmp_sent"] == 1 and a.counters.received == a.counters.accounted


def test_formula_figures():
    """The figures docs/model.md quotes, worked by hand: MTU 1500, ICV 16: tunnel
    1500 - 20 - 16 - 16 = 1448 (a multiple of 4), - 2 = 1446; with NAT-T 1440 - 2 = 1438;
    transport (20-byte header) 1500 - 20 - 16 - 16 = 1448 - 2 + 20 = 1466."""
    assert next_hop_mtu(next(iter(site(1500).sad)), 1500, 20) == 1446
    assert next_hop_mtu(next(iter(site(1500, natt=True).sad)), 1500, 20) == 1438
    assert next_hop_mtu(next(iter(site(1500, "transport").sad)), 1500, 20) == 1466


@pytest.mark.parametrize("ip", [
    packet(1400, df=False),  # may be fragmented downstream: no PMTU answer (RFC 1191 §4)
    packet(1400, l4=ICMP(type=3, code=1)),  # an ICMP error (RFC 1122 §3.2.2)
    packet(1400, l4=ICMP(type=11)),
    packet(1400, src="0.0.0.0"), packet(1400, src="127.0.0.1"), packet(1400, src="224.0.0.5"),
    packet(1400, dst="239.1.2.3"), packet(1400, dst="255.255.255.255"),
], ids=["no-df", "icmp-unreachable", "icmp-time-exceeded", "src-zero", "src-loopback", "src-multicast",
        "dst-multicast", "dst-broadcast"])
def test_no_answer(ip):
    a = site(1300)
    v = a.process(Port.PLAIN, frame(ip))
    assert v.reason is Reason.TOO_BIG and v.answer is None
    assert a.counters.as_dict()["icmp_sent"] == a.counters.as_dict()["icmp_limited"] == 0


def test_an_icmp_query_is_answered():
    a = site(1300)
    assert a.process(Port.PLAIN, frame(packet(1400, l4=ICMP(type=8)))).answer is not None


def test_rate_limit_counts_frames():
    """Bucket of 2, a token per 3 plaintext frames (this one included, before its answer):
    answers 1, 2 (the bucket), 3 (its token), then every third frame; the small frames between
    count too."""
    a = site(1300, icmp_every=3, icmp_burst=2)
    big, small = frame(packet(1400)), frame(packet(100))
    got = [a.process(Port.PLAIN, big).answer is not None for _ in range(9)]
    assert got == [True, True, True, False, False, True, False, False, True]
    assert a.process(Port.PLAIN, small).port is Port.CIPHER  # frame 10
    assert a.process(Port.PLAIN, small).port is Port.CIPHER  # frame 11
    assert a.process(Port.PLAIN, big).answer is not None  # frame 12 brings a token
    c = a.counters
    assert (c.icmp_sent, c.icmp_limited, c.drops[Reason.TOO_BIG]) == (6, 4, 10)
    assert a.counters.received == a.counters.accounted  # the answers are outside the identity


def test_burst_zero_never_answers():
    a = site(1300, icmp_burst=0)
    assert all(a.process(Port.PLAIN, frame(packet(1400))).answer is None for _ in range(40))
    assert a.counters.icmp_limited == 40


def test_bad_rate_limit_is_refused():
    with pytest.raises(ValueError, match="icmp rate limit"):
        Appliance(icmp_every=0)
