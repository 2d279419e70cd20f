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
    for _ in range(200):
        if all(len(got[n]) >= len(want[n]) for n in got):
            break
        transport.idle(500)
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
