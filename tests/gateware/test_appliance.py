"""The appliance gateware in Amaranth's simulator, programmed through the host driver, frame for
frame against the reference model (small sets; the cocotb + Verilator bench runs the big ones).

The default suite keeps all ports at once on the gigabit build (a 4-byte bus, compact engines);
the rest is `slow`: each block is tested on its own (tests/gateware/esp/test_encapsulator.py,
test_decapsulator.py, test_icmp_too_big.py, the controls', events' and frame queue's tests) and the
Verilator bench (tests/gateware/test_appliance_cocotb.py) runs every SA variant (tunnel,
transport, NAT-T, ESN, ICV 8/12/16, AES-128/256, DF, TTL), too-big answers and port stalls
through the whole appliance."""

import random

import pytest
from scapy.layers.l2 import Ether

from espline.gateware.appliance import Appliance
from espline.gateware.builds import BUILDS
from espline.sim.appsim import run
from espline.sim.model import Appliance as Model
from espline.sim.model import Lifetime, Port
from espline.sim.model.accounting import Reason
from espline.sim.sites import SPI_BA, hosts, two_sites
from espline.sim.traffic import arp_frame, ethernet, ip_packet


def slow(*args):
    return pytest.param(*args, marks=pytest.mark.slow)


@pytest.mark.parametrize("mode,natt,options", [
    slow("tunnel", False, {}), slow("tunnel", True, {"key_bits": 256, "icv": 8}),
    slow("transport", False, {"esn": True}),
    slow("transport", True, {"icv": 12, "df": "set"}), slow("tunnel", False, {"df": "clear", "ttl": 9, "esn": True}),
])
def test_outbound_matches_the_model(mode, natt, options):
    rng = random.Random(7)
    site, _ = two_sites(mode, natt=natt, **options)
    frames = [ethernet(ip_packet(rng.randint(28, 600), *hosts(mode), rng.choice(("udp", "tcp", "icmp")), seed=i,
                                 df=rng.random() < 0.5, tos=rng.randrange(256)),
                       vlan=rng.choice((None, 5))) for i in range(12)]
    frames += [ethernet(ip_packet(64, "172.16.0.1", "172.16.0.2")), arp_frame()]  # no policy; not IP
    rng.shuffle(frames)
    r = run(site, {Port.PLAIN: frames})
    assert r.matches()
    assert r.driver.global_counters() == site.counters.as_dict()


def inbound_frames(peer, mode, rng, count=12):
    """ESP frames from `peer` for its partner, with replays, tampering, IKE and keepalives mixed in."""
    b_host, a_host = hosts(mode)[::-1]
    esp = [peer.process(Port.PLAIN, ethernet(ip_packet(rng.randint(28, 600), b_host, a_host,
                                                       rng.choice(("udp", "tcp", "icmp")), seed=100 + i),
                                             vlan=rng.choice((None, 5)))).frame for i in range(count)]
    frames = list(esp)
    frames.insert(3, esp[1])  # a replay
    frames.append(esp[-1])  # a replay right behind its original
    flipped = bytearray(esp[2])
    flipped[-3] ^= 0x10  # ICV
    frames.insert(5, bytes(flipped))
    outer = (peer.sad.get("out", next(iter(s.spi for s in peer.sad if s.dir == "out"))).dst, )
    frames += [ethernet(ip_packet(60, "198.51.100.2", outer[0], "udp", sport=500, dport=500)),  # IKE
               arp_frame(), ethernet(ip_packet(64, "10.2.0.9", "10.1.0.5"))]  # cleartext where ESP is due
    return frames


@pytest.mark.parametrize("mode,natt,options", [
    slow("tunnel", False, {}), slow("tunnel", True, {"key_bits": 256, "icv": 8, "esn": True}),
    slow("transport", False, {"icv": 12}), slow("transport", True, {"esn": True}),
])
def test_inbound_matches_the_model(mode, natt, options):
    rng = random.Random(11)
    site, peer = two_sites(mode, natt=natt, **options)
    frames = inbound_frames(peer, mode, rng)
    r = run(site, {Port.CIPHER: frames})
    assert r.matches()
    assert r.driver.global_counters() == site.counters.as_dict()


@pytest.mark.slow
def test_too_big_frames_are_answered_on_the_plaintext_side():
    """DF frames that outgrow the MTU once protected get ICMP "fragmentation needed" on plain_o,
    merged with the decapsulated frames of a peer, rate-limited (a token per 4 plaintext frames,
    2 at most); the others pass; every counter as the model's (docs/model.md)."""
    rng = random.Random(5)
    a, peer = two_sites()
    limit = {"mtu": 1000, "icmp_every": 4, "icmp_burst": 2}
    site = Model(list(a.sad), a.spd.policies, **limit)
    frames = [ethernet(ip_packet(rng.choice((rng.randint(900, 1100), rng.randint(40, 300))), *hosts("tunnel"),
                                 rng.choice(("udp", "tcp", "icmp")), seed=i, df=rng.random() < 0.8),
                       vlan=rng.choice((None, 5))) for i in range(24)]
    r = run(site, {Port.PLAIN: frames, Port.CIPHER: inbound_frames(peer, "tunnel", rng, count=6)},
            dut=Appliance(**limit))
    counters = site.counters.as_dict()
    assert counters["icmp_sent"] >= 3 and counters["icmp_limited"] >= 1, "the mix should answer and limit"
    assert r.matches()
    assert r.driver.global_counters() == counters


def garbage(rng, frames):
    """Runts, random bytes, truncated and bit-flipped copies, an unknown SPI."""
    out = [bytes(rng.randrange(1, 14)), rng.randbytes(rng.randint(14, 200))]
    for f in rng.sample(frames, 4):
        cut = bytearray(f[: rng.randint(14, len(f) - 1)])
        flipped = bytearray(f)
        flipped[rng.randrange(14, len(f))] ^= 1 << rng.randrange(8)
        out += [bytes(cut), bytes(flipped)]
    return out


@pytest.mark.parametrize("config", [slow("wide"), slow("compact"), "gigabit"])
def test_all_ports_at_once(config):
    """Both directions and the host port busy together, with malformed frames in both directions;
    "gigabit": the gigabit build (compact engines, a 4-byte bus, its tables and frame limits)."""
    rng = random.Random(5)
    site, peer = two_sites("tunnel", natt=True)
    dut = None
    if config in BUILDS:
        build = BUILDS[config]
        dut, site.mtu, site.max_frame = build.appliance(), build.mtu, build.max_frame
    plain = [ethernet(ip_packet(rng.randint(28, 300), *hosts("tunnel"), seed=i)) for i in range(8)]
    cipher = inbound_frames(peer, "tunnel", rng, count=8)
    plain += garbage(rng, plain) + [bytes(Ether(type=0x86DD)) + bytes(60)]
    cipher += garbage(rng, cipher)
    rng.shuffle(plain)
    rng.shuffle(cipher)
    host = [ethernet(ip_packet(90, "192.0.2.1", "198.51.100.2", "udp", sport=500, dport=500))] * 2
    r = run(site, {Port.PLAIN: plain, Port.CIPHER: cipher, Port.HOST: host}, config=config, dut=dut)
    assert r.matches()
    assert r.driver.global_counters() == site.counters.as_dict()
    for sa in site.sad:
        c = r.driver.sa_counters(r.driver.sa_index(sa.dir, sa.spi))
        assert (c.packets, c.bytes, c.auth_fail, c.replay) == (sa.counters.packets, sa.counters.bytes,
                                                                sa.counters.auth_fail, sa.counters.replay)
        assert c.seq == (sa.seq if sa.dir == "out" else sa.window.top)


@pytest.mark.slow
def test_lifetime_and_threshold_events():
    """Soft and hard packet lifetimes of an inbound SA (the model's events), and the auth-failure and
    replay thresholds of EVENT_THRESHOLD (an event as an SA's count reaches one), in order."""
    site, peer = two_sites("tunnel", lifetime=Lifetime(soft_packets=3, hard_packets=5))
    good = [peer.process(Port.PLAIN, ethernet(ip_packet(100, "10.2.0.9", "10.1.0.5", seed=i))).frame
            for i in range(5)]  # the peer's SA has the same hard limit
    bad = [bytearray(f) for f in good[3:5]]
    for f in bad:
        f[-1] ^= 1  # ICV
    frames = [good[0], bytes(bad[0]), good[1], good[0], bytes(bad[1]), good[2], good[3], good[4]]
    def program(driver):
        driver.load(list(site.sad), site.spd.policies)
        driver.set_event_thresholds(auth_fail=2, replay=1)

    r = run(site, {Port.CIPHER: frames}, program=program)
    assert r.matches()
    index = r.driver.sa_index("in", SPI_BA)
    model_events = [(e.value.replace("-", "_"), index) for e, sa in site.events]
    assert model_events == [("soft_lifetime", index), ("hard_lifetime", index)]
    events = []
    while (event := r.driver.poll_event()) is not None:
        events.append(event)
    # the replay drop (4th frame) reaches its threshold first, then the second auth failure
    assert events == [("replay_threshold", index), ("auth_fail_threshold", index), *model_events]
    assert site.counters.drops[Reason.AUTH_FAIL] == 2 and site.counters.drops[Reason.REPLAY] == 1


def esp_from(peer, seeds, size=200):
    """ESP frames from `peer` (site B, tunnel mode) for site A, one per seed."""
    b_host, a_host = hosts("tunnel")[::-1]
    return [peer.process(Port.PLAIN, ethernet(ip_packet(size, b_host, a_host, seed=s))).frame for s in seeds]


@pytest.mark.slow
def test_a_stalled_host_port_never_stalls_the_lan():
    """`host_o` not read at all: an IKE frame, then ESP frames: every ESP frame leaves `plain_o`;
    then more IKE frames than the host queue holds: it keeps what fits, drops and counts the rest,
    and ESP still flows. Once `host_o` is read, the kept IKE frames come out whole, in order."""
    site, peer = two_sites("tunnel")
    ike = [ethernet(ip_packet(1000, "198.51.100.2", "192.0.2.1", "udp", sport=500, dport=500, seed=k))
           for k in range(7)]
    esp = esp_from(peer, range(20))
    dut = Appliance()
    kept = dut.host_queue // dut.width // -(-len(ike[0]) // dut.width)  # 4 frames of 64 beats in 256
    assert 1 <= kept < len(ike)
    r = run(site, {Port.CIPHER: [ike[0], *esp[:10], *ike[1:], *esp[10:]]}, dut=dut,
            hold={"host": lambda r: len(r.got["plain"]) == len(esp)})
    assert r.got["host"] == ike[:kept] and r.matches()
    assert r.driver.global_counters() == {**site.counters.as_dict(), "punt_dropped": len(ike) - kept}


@pytest.mark.slow  # the apptb bench waits for `idle` and compares every counter after every run
def test_counters_account_for_frames_dropped_last():
    """Compact engine, the last frames large and failing their ICV (dropped only once decrypted):
    when `run` returns, the counters already count them."""
    site, peer = two_sites("tunnel")
    frames = esp_from(peer, range(8), size=1400)
    for k in range(2, 8):
        frames[k] = frames[k][:-1] + bytes([frames[k][-1] ^ 1])
    r = run(site, {Port.CIPHER: frames}, config="compact")
    assert r.driver.global_counters() == site.counters.as_dict()
    assert site.counters.drops[Reason.AUTH_FAIL] == 6 and r.matches()
