"""Frames of every length get exactly one decision and are consumed whole (docs/invariants.md,
frames and decisions in step; docs/frames.md, the frame-size contract), against the model.

Regressions of main at 68a5381: a 0-byte frame, or one of 64 KiB or more, put a direction out of
step for good (every later frame released under the decision of the frame before it: protected
traffic left the ciphertext side in clear); frames of 16 KiB + 1 .. 64 KiB - 1 were dropped by
the gateware and forwarded by the model.

`slow` (minutes in Amaranth's simulator): the default suite checks the same contract at block
level (tests/gateware/esp/test_intake.py: numbering and placeholders at 0 bytes, runts, the
largest frame, one more, beyond the store and beyond 64 KiB; test_parser.py, test_packet_buffer.py)
and through the whole appliance in Verilator (tests/gateware/test_appliance_cocotb.py, the
hostile mix's frame-size edges in both directions, bit-exact against the model).
"""

import random

import pytest

from espline.sim.appsim import run
from espline.sim.model import Port
from espline.sim.model.accounting import Reason
from espline.sim.model.appliance import MAX_FRAME
from espline.sim.sites import hosts, two_sites
from espline.sim.traffic import arp_frame, ethernet, ip_packet

pytestmark = pytest.mark.slow


def protected(rng, count, mode="tunnel"):
    return [ethernet(ip_packet(rng.randint(28, 300), *hosts(mode), seed=i)) for i in range(count)]


def non_ip(size):
    """An Ethernet frame that is not IP (forwarded by both directions) of `size` bytes."""
    frame = arp_frame()
    return (frame + bytes(size))[:size]


def check(site, r):
    assert r.matches()
    assert r.driver.global_counters() == site.counters.as_dict()
    assert r.driver.global_counters()["drop_desync"] == 0


def test_runts_leave_the_outbound_direction_in_step():
    """Before the fix, the frames after a 0-byte one left the ciphertext side in clear."""
    rng = random.Random(1)
    frames = protected(rng, 3) + [b""] + protected(rng, 2) + [bytes(1)] + protected(rng, 2) + [bytes(13)]
    frames += protected(rng, 2)
    site, _ = two_sites()
    r = run(site, {Port.PLAIN: frames})
    check(site, r)
    assert len(r.got["cipher"]) == 9 and all(f[23] == 50 for f in r.got["cipher"])  # all ESP


def test_runts_leave_the_inbound_direction_in_step():
    """Before the fix, cleartext the inbound SPD must drop reached the plaintext side after a 0-byte frame."""
    site, peer = two_sites()
    b_host, a_host = hosts("tunnel")[::-1]
    esp = [peer.process(Port.PLAIN, ethernet(ip_packet(100, b_host, a_host, seed=i))).frame for i in range(4)]
    cleartext = ethernet(ip_packet(64, b_host, a_host))  # protected traffic arriving in clear: dropped
    frames = [esp[0], b"", cleartext, esp[1], non_ip(60), esp[2], bytes(7), cleartext, esp[3]]
    r = run(site, {Port.CIPHER: frames})
    check(site, r)
    assert cleartext[14:] not in [f[14:] for f in r.got["plain"]]


def test_frames_around_the_largest_and_beyond_64k():
    """MAX_FRAME passes; MAX_FRAME + 1 (stored, then dropped), 16 KiB + 1 (beyond the store: the
    gateware dropped it and the model forwarded it) and 65,600 bytes (a 16-bit length would read it
    as 64) are dropped as malformed; the frames after them keep their own decisions, in both
    directions."""
    rng = random.Random(3)
    site, peer = two_sites()
    plain = [f for size in (MAX_FRAME, 16 * 1024 + 1, 65_600) for f in (non_ip(size), *protected(rng, 1))]
    b_host, a_host = hosts("tunnel")[::-1]
    esp = [peer.process(Port.PLAIN, ethernet(ip_packet(100, b_host, a_host, seed=i))).frame for i in range(2)]
    cipher = [f for size, e in zip((MAX_FRAME + 1, 65_600), esp, strict=True) for f in (non_ip(size), e)]
    r = run(site, {Port.PLAIN: plain, Port.CIPHER: cipher})
    check(site, r)
    assert site.counters.drops[Reason.MALFORMED] == 4 and non_ip(MAX_FRAME) in r.got["cipher"]
