"""The encapsulator against the reference model (esp.encapsulate), jobs filled from the model's
SA as the outbound control fills them: tunnel and transport, NAT-T, AES-128 and AES-256, ICVs
of 8, 12 and 16 bytes, ESN, VLAN tags and Ethernet padding, with forwarded and dropped frames
between, under random stalls; every SA's packets through one engine (wide and compact), key by key;
on a 16-, 4- and 2-byte packet bus."""

import random

import pytest
from esp_jobs import DROP, FORWARD, encap, feeders, pass_job, plain_frames

from espline.gateware.esp.encapsulator import Encapsulator
from espline.sim.packetbus import simulate, take_frame
from espline.sim.sites import SPI_AB, hosts, two_sites
from espline.sim.traffic import arp_frame

SAS = [("tunnel", False, {}), ("tunnel", True, {"key_bits": 256, "icv": 8, "esn": True, "df": "set", "ttl": 9}),
       ("transport", False, {"icv": 12}), ("transport", True, {"key_bits": 256, "esn": True})]


def cases(rng):
    """(frame, job, the frame expected out or None) in random order: protected frames of every
    SA, a forwarded and a dropped one."""
    out = []
    for mode, natt, options in SAS:
        site, _ = two_sites(mode, natt=natt, **options)
        sa = site.sad.get("out", SPI_AB)
        for frame in plain_frames(rng, mode, 3, hosts(mode)):
            out.append((frame, *encap(sa, frame)[::-1]))
    out.append((arp_frame(), pass_job(FORWARD), arp_frame()))
    dropped = plain_frames(rng, "tunnel", 1, hosts("tunnel"))[0]
    out.append((dropped, pass_job(DROP), None))
    return out


@pytest.mark.parametrize("config,width", [("wide", 16), ("compact", 16), ("compact", 4),
                                          pytest.param("wide", 2, marks=pytest.mark.slow)])
def test_matches_the_model(config, width):
    rng = random.Random(1)
    items = cases(rng)
    rng.shuffle(items)  # the engine switches SA (key, key size, ICV length) packet by packet
    dut = Encapsulator(n_sa=4, width=width, config=config)
    want = [expect for _, _, expect in items if expect is not None]
    got = []

    frames, jobs = feeders(dut, items, rng)

    async def sink(ctx):
        for _ in want:
            got.append(await take_frame(ctx, dut.o, width, rng, stall=0.3))

    simulate(dut, frames, jobs, sink, cycles=50_000 * 16 // width,
             stuck=lambda: f"stuck after {len(got)} of {len(want)} frames")
    assert got == want
