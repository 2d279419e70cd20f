"""Anti-replay (RFC 4303 §3.4.3) and ESN inference (RFC 4303 Appendix A2)."""

import random

import pytest
from scapy.layers.inet import IP
from scapy.layers.ipsec import ESP
from scapy.layers.ipsec import SecurityAssociation as ScapySA

from espline.sim.model import Appliance, Policy, Port, Reason, ReplayWindow, SecurityAssociation, Selector
from espline.sim.sites import SPI_AB, hosts, two_sites
from espline.sim.traffic import ethernet, ip_packet


def naive_accepts(stream, size, start=0):
    """An independent statement of the rule: accept a number once, unless it is `size` or more
    below the highest accepted so far; a window that starts at `start` (docs/config.md,
    replay_seq) accepts nothing up to it."""
    seen, top, out = set(), start, []
    for seq in stream:
        ok = seq > start and seq not in seen and seq > top - size
        if ok:
            seen.add(seq)
            top = max(top, seq)
        out.append(ok)
    return out


def accepts(window: ReplayWindow, stream: list[int]) -> list[bool]:
    """The window's verdict on each number of `stream`, updating it after each accepted one."""
    got = []
    for seq in stream:
        ok = window.check(seq)
        if ok:
            window.update(seq)
        got.append(ok)
    return got


@pytest.mark.parametrize("size", [1, 32, 64, 128, 1024])
def test_window_matches_the_rule_on_random_streams(size):
    rng = random.Random(size)
    stream = [max(1, i + rng.randint(-2 * size, 3)) for i in range(1, 3000) for _ in range(rng.randint(1, 2))]
    got = accepts(ReplayWindow(size), stream)
    assert got == naive_accepts(stream, size)


@pytest.mark.parametrize("size,start", [(32, 1000), (64, 5), (128, (1 << 32) - 100), (1024, 3 << 40)])
def test_a_window_started_at_a_number_matches_the_rule(size, start):
    """replay_seq T: every number up to T counts as received (T - W + 1 .. T marked, below that too
    old); above T the window works as ever."""
    rng = random.Random(start)
    stream = [max(1, start + i + rng.randint(-2 * size, 3)) for i in range(-size, 2000)]
    got = accepts(ReplayWindow(size, esn=True, top=start), stream)
    assert got == naive_accepts(stream, size, start) and any(got) and not all(got)


def test_check_has_no_side_effect():
    window = ReplayWindow(64)
    assert window.check(5) and window.check(5)
    window.update(5)
    assert not window.check(5)


@pytest.mark.parametrize("top", [(3 << 32) + 10, (3 << 32) - 10, (3 << 32) + 200, 100])
def test_esn_inference_near_2_32_boundaries(top):
    window = ReplayWindow(128, esn=True)
    window.top = top
    for seq in range(max(1, top - 127), top + 1000):
        assert window.infer(seq & 0xFFFFFFFF) == seq


def site_b(**kw):
    _, b = two_sites(replay_window=64, **kw)
    return b, b.sad.get("in", SPI_AB)


def scapy_sender(sa):
    return ScapySA(ESP, spi=sa.spi, crypt_algo="AES-GCM", crypt_key=sa.key, tunnel_header=IP(src=sa.src, dst=sa.dst),
                   esn_en=sa.esn)


def send(b, sender, seq, esn_high=0):
    inner = ip_packet(80, *hosts("tunnel"), seed=seq)
    sender.seq_num = seq  # (scapy's seq_num= argument cannot say 0)
    wire = sender.encrypt(IP(inner), iv=((esn_high << 32) | seq).to_bytes(8, "big"), esn=esn_high)
    return b.process(Port.CIPHER, ethernet(bytes(wire)))


def test_duplicates_reordering_and_old_packets():
    b, sa = site_b()
    sender = scapy_sender(sa)
    order = [1, 2, 3, 2, 10, 5, 4, 5, 70, 6, 7, 69, 69, 300, 237, 236, 236]
    expect = [1, 1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 0]
    got = [int(send(b, sender, seq).port is Port.PLAIN) for seq in order]
    assert got == expect
    assert sa.counters.replay == b.counters.drops[Reason.REPLAY] == expect.count(0)


def test_esn_across_the_2_32_boundary_with_reordering():
    b, sa = site_b(esn=True)
    sa.window.top = (1 << 32) - 40
    sender = scapy_sender(sa)
    full = list(range((1 << 32) - 30, (1 << 32) + 30))
    rng = random.Random(1)
    for i in range(0, len(full), 8):  # shuffle in groups of 8: reordering well inside the window
        chunk = full[i : i + 8]
        rng.shuffle(chunk)
        full[i : i + 8] = chunk
    for seq in full:
        assert send(b, sender, seq & 0xFFFFFFFF, seq >> 32).port is Port.PLAIN, hex(seq)
    for seq in full[-5:]:  # and every one of them is a replay afterwards
        assert send(b, sender, seq & 0xFFFFFFFF, seq >> 32).reason is Reason.REPLAY
    assert sa.window.top == (1 << 32) + 29


@pytest.mark.parametrize("esn,start", [(False, 1000), (False, (1 << 32) - 4), (True, (1 << 32) - 3),
                                       (True, (5 << 32) + 7)])
def test_an_inbound_sa_taken_over_at_replay_seq(esn, start):
    """An inbound SA configured with replay_seq T (Linux: `replay-seq`; with ESN, 64 bits) takes
    from scapy's sender (an outside implementation) only numbers above T, once each."""
    a, _ = two_sites(esn=esn)
    out = a.sad.get("out", SPI_AB)
    b = Appliance([SecurityAssociation(spi=SPI_AB, dir="in", src=out.src, dst=out.dst, mode="tunnel", key=out.key,
                                       esn=esn, replay_window=64, replay_seq=start)],
                  [Policy("in", Selector(), "protect", SPI_AB)])
    sa = b.sad.get("in", SPI_AB)
    assert sa.window.top == start
    sender = scapy_sender(sa)
    # below the window (start - 64) only without ESN: with ESN it is taken for the next 2^32 (A2.2)
    stream = [start - 64] * (not esn) + [start - 63, start - 1, start, start + 2, start + 1, start + 1, start + 3,
                                         start]
    got = [send(b, sender, seq & 0xFFFFFFFF, seq >> 32).reason for seq in stream]
    assert got == [Reason.REPLAY] * (4 - esn) + [None] * 2 + [Reason.REPLAY, None, Reason.REPLAY]
    assert sa.window.top == start + 3


def test_window_not_updated_by_a_forgery():
    b, sa = site_b()
    sender = scapy_sender(sa)
    forged = ScapySA(ESP, spi=sa.spi, crypt_algo="AES-GCM", crypt_key=bytes(20), tunnel_header=IP(src=sa.src))
    inner = ip_packet(80, *hosts("tunnel"))
    assert b.process(Port.CIPHER, ethernet(bytes(forged.encrypt(IP(inner), seq_num=500)))).reason is Reason.AUTH_FAIL
    assert sa.window.top == 0
    assert send(b, sender, 3).port is Port.PLAIN  # far below the forged 500: still accepted


def test_a_jump_beyond_the_window_restarts_it():
    window = ReplayWindow(128, esn=True)
    window.update(10)
    window.update(10 + (1 << 40))  # e.g. the next 2^32 subspace: no 2^40-bit shift
    assert window.bitmap == 1 and not window.check(10 + (1 << 40)) and window.check(11 + (1 << 40))
