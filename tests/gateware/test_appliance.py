"""The appliance gateware in Amaranth's simulator, programmed through the host driver, frame for
frame against the reference model (small sets; the cocotb + Verilator bench runs the big ones)."""

import random

import pytest

from espline.gateware.appliance import Appliance
from espline.host.driver import Espline
from espline.host.transport.sim import AmaranthSimTransport
from espline.sim.model import Port
from espline.sim.packetbus import put_frame, take_frame
from espline.sim.sites import hosts, two_sites
from espline.sim.traffic import arp_frame, ethernet, ip_packet


def run(site, inputs: dict, *, idle=0.2, stall=0.2, seed=1):
    """Program `site`'s SAs and policies into the gateware, feed `inputs` ({Port: frames}); return
    the frames each output port emitted, those the model `site` emits for the same inputs, and
    the driver (for the counters)."""
    dut = Appliance()
    rng = random.Random(seed)
    go, got = [], {"plain": [], "cipher": [], "host": []}
    want = {name: [] for name in got}
    sources = {Port.PLAIN: "plain_i", Port.HOST: "host_i", Port.CIPHER: "cipher_i"}

    def source(port, frames):
        async def bench(ctx, csr):
            while not go:
                await ctx.tick()
            for f in frames:
                await put_frame(ctx, getattr(dut, sources[port]), f, 16, rng, idle)
        return bench

    def sink(name):
        async def bench(ctx, csr):
            while True:
                got[name].append(await take_frame(ctx, getattr(dut, f"{name}_o"), 16, rng, stall))
        return bench

    benches = [source(p, f) for p, f in inputs.items()]
    benches += [sink(n) for n in got if hasattr(dut, f"{n}_o")]
    transport = AmaranthSimTransport(dut, benches)
    driver = Espline(transport, scan=False)
    driver.load(list(site.sad), site.spd.policies)
    go.append(1)
    for port, frames in inputs.items():
        for f in frames:
            v = site.process(port, f)
            if v.port is not None:
                want[v.port.value].append(v.frame)
    budget = 3000 + 20 * sum(len(f) // 16 + 1 for frames in inputs.values() for f in frames)
    while budget > 0 and not all(len(got[n]) >= len(want[n]) for n in got):
        transport.idle(200)
        budget -= 200
    transport.idle(200)  # nothing more may come
    return got, want, driver


@pytest.mark.parametrize("mode,natt,options", [
    ("tunnel", False, {}), ("tunnel", True, {"key_bits": 256, "icv": 8}), ("transport", False, {"esn": True}),
    ("transport", True, {"icv": 12, "df": "set"}), ("tunnel", False, {"df": "clear", "ttl": 9, "esn": True}),
])
def test_outbound_matches_the_model(mode, natt, options):
    rng = random.Random(7)
    site, _ = two_sites(mode, natt=natt, **options)
    frames = [ethernet(ip_packet(rng.randint(28, 600), *hosts(mode), rng.choice(("udp", "tcp", "icmp")), seed=i,
                                 df=rng.random() < 0.5, tos=rng.randrange(256)),
                       vlan=rng.choice((None, 5))) for i in range(12)]
    frames += [ethernet(ip_packet(64, "172.16.0.1", "172.16.0.2")), arp_frame()]  # no policy; not IP
    rng.shuffle(frames)
    got, want, driver = run(site, {Port.PLAIN: frames})
    assert got == want
    assert driver.global_counters() == site.counters.as_dict()


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
    ("tunnel", False, {}), ("tunnel", True, {"key_bits": 256, "icv": 8, "esn": True}),
    ("transport", False, {"icv": 12}), ("transport", True, {"esn": True}),
])
def test_inbound_matches_the_model(mode, natt, options):
    rng = random.Random(11)
    site, peer = two_sites(mode, natt=natt, **options)
    frames = inbound_frames(peer, mode, rng)
    got, want, driver = run(site, {Port.CIPHER: frames})
    assert got == want
    assert driver.global_counters() == site.counters.as_dict()
