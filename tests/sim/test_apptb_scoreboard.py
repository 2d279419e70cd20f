"""The appliance bench's traffic generator and scoreboard, without a simulator: reproducible
mixes, SPIs the hardware can index, every verdict reached, and a scoreboard that passes the
model's own output in any legal interleaving and names what differs otherwise."""

import random
from collections import Counter

import pytest

from espline.regmap.spi_index import SpiIndex
from espline.sim.apptb.components import Stalls, decode_beat, encode_frame
from espline.sim.apptb.scoreboard import Mismatch, Scoreboard
from espline.sim.apptb.traffic import SiteMix
from espline.sim.model import Event, Port, Reason
from espline.sim.pcap import read_frames

PORTS = {"plain_i": Port.PLAIN, "cipher_i": Port.CIPHER, "host_i": Port.HOST}


def inputs(site, total):
    return {port: list(site.frames(port, n)) for port, n in site.counts(total).items()}


def test_mix_is_reproducible_from_its_seed():
    a, b = SiteMix(7), SiteMix(7)
    assert a.describe() == b.describe() and a.config() == b.config()
    assert inputs(a, 400) == inputs(b, 400)
    assert inputs(SiteMix(8), 400) != inputs(a, 400)


@pytest.mark.parametrize("n_sa", [256, 8])
def test_inbound_spis_fit_the_spi_index(n_sa):
    """The driver loads the SAs in the configuration's order: each inbound SPI finds a slot then."""
    for seed in range(20):
        site, index = SiteMix(seed, n_sa=n_sa), SpiIndex(n_sa)
        inbound = [p.inb.spi for p in site.pairs]
        assert len(set(inbound)) == len(inbound)
        assert all(index.insert(spi, k) for k, spi in enumerate(inbound))


@pytest.mark.parametrize("mix", ["default", "hostile"])
def test_mix_reaches_every_verdict(mix):
    site = SiteMix(3, mix)
    model = site.model()
    verdicts = Counter()
    for port, frames in inputs(site, 6000).items():
        for frame in frames:
            v = model.process(PORTS[port], frame)
            verdicts[v.port or v.reason] += 1
    assert set(Reason) - {Reason.SA_EXPIRED} <= set(verdicts), verdicts
    assert {Port.PLAIN, Port.CIPHER, Port.HOST} <= set(verdicts), verdicts
    assert model.counters.received == model.counters.accounted == 6000


def dut_outputs(site, frames, rng):
    """What a correct appliance may emit: a second model fed the ports in a random interleaving,
    outputs kept per output port in the order they leave (so cipher_o interleaves plain_i and host_i)."""
    model, out = site.model(), {p: [] for p in Port}
    queues = {p: list(f) for p, f in frames.items()}
    while any(queues.values()):
        port = rng.choice([p for p, q in queues.items() if q])
        v = model.process(PORTS[port], queues[port].pop(0))
        if v.port is not None:
            out[v.port].append(v.frame)
        if v.answer is not None:
            out[Port.PLAIN].append(v.answer)
    return model, out


def counters_of(model):
    per_sa = {(sa.dir, sa.spi): {"packets": sa.counters.packets, "bytes": sa.counters.bytes,
                                 "auth_fail": sa.counters.auth_fail, "replay": sa.counters.replay,
                                 "seq": sa.seq if sa.dir == "out" else sa.window.top} for sa in model.sad}
    return model.counters.as_dict(), per_sa


@pytest.mark.parametrize("mix", ["default", "pmtu"])
def test_scoreboard_passes_a_correct_appliance_in_any_interleaving(mix):
    site = SiteMix(4, mix)
    frames = inputs(site, 1500)
    other, out = dut_outputs(site, frames, random.Random(1))
    board = Scoreboard(site.model())
    board.feed_all(frames)
    for port, got in out.items():
        for frame in got:
            board.receive(port, frame)
    board.check_drained()
    board.check_counters(*counters_of(other))
    if mix == "pmtu":  # ICMP answers interleaved with decapsulated frames on plain_o, past the rate limit
        assert other.counters.icmp_sent >= 20 and other.counters.icmp_limited >= 20


def test_scoreboard_misses_a_missing_icmp_answer():
    site = SiteMix(4, "pmtu")
    frames = inputs(site, 300)
    _, out = dut_outputs(site, frames, random.Random(2))
    answers = [f for f in out[Port.PLAIN] if f[12:14] == b"\x08\x00" and f[14 + 9] == 1 and f[34] == 3]
    assert answers
    board = Scoreboard(site.model())
    board.feed_all(frames)
    for port, got in out.items():
        for frame in got:
            if frame is not answers[-1]:
                board.receive(port, frame)
    with pytest.raises(Mismatch, match="plain_o<-plain_i: 1"):
        board.check_drained()


def test_scoreboard_accepts_missing_punted_frames_only_as_counted():
    """The host queue dropped punted frames (one amid the others, the last one): host_o may skip
    them, exactly as many as punt_dropped counts; a frame missing elsewhere is not excused."""
    site = SiteMix(6)
    frames = inputs(site, 1500)
    other, out = dut_outputs(site, frames, random.Random(3))
    host = out[Port.HOST]
    assert len(host) >= 4
    board = Scoreboard(site.model())
    board.feed_all(frames)
    for port, got in out.items():
        for frame in (host[:1] + host[2:-1] if port is Port.HOST else got):
            board.receive(port, frame)
    for counted in (0, 1, 3):
        with pytest.raises(Mismatch, match=rf"host_o: 2 punted frame\(s\) missing, punt_dropped counts {counted}"):
            board.check_drained(counted)
    board.check_drained(2)
    glob, per_sa = counters_of(other)
    with pytest.raises(Mismatch, match="global punt_dropped: 0, expected 2"):
        board.check_counters(glob, per_sa)
    board.check_counters({**glob, "punt_dropped": 2}, per_sa)
    board = Scoreboard(site.model())
    board.feed_all(frames)
    with pytest.raises(Mismatch, match="plain_o frame 0"):
        board.receive(Port.PLAIN, out[Port.PLAIN][1])
    board = Scoreboard(site.model())
    board.feed_all(frames)
    for frame in out[Port.PLAIN][:-1]:
        board.receive(Port.PLAIN, frame)
    with pytest.raises(Mismatch, match="missing frames: plain_o"):
        board.check_drained(board.punts_lost)


def test_scoreboard_names_port_frame_and_byte(tmp_path):
    site = SiteMix(5)
    frames = inputs(site, 600)
    other, out = dut_outputs(site, frames, random.Random(2))
    board = Scoreboard(site.model(), dump=tmp_path / "mismatch")
    board.feed_all(frames)
    bad = bytearray(out[Port.PLAIN][3])
    bad[40] ^= 0x10
    for frame in out[Port.PLAIN][:3]:
        board.receive("plain_o", frame)
    # plain_o also expects ICMP answers to too-big frames from plain_i: that head is named too
    with pytest.raises(Mismatch, match=r"plain_o frame 3: (not plain_i .*; )?"
                                       r"not cipher_i frame \d+: byte 40 is 0x.., expected 0x.."):
        board.receive("plain_o", bytes(bad))
    dumped = [f for f, _ in read_frames(tmp_path / "mismatch-plain_o-3.pcap")]
    assert dumped[-2:] == [out[Port.PLAIN][3], bytes(bad)] and dumped[-3] in frames["cipher_i"]
    with pytest.raises(Mismatch, match=r"missing frames: (.*; )?plain_o<-cipher_i: \d+ \(first: input frame \d+\)"):
        board.check_drained()
    for frame in out[Port.HOST]:
        board.receive("host_o", frame)
    with pytest.raises(Mismatch, match=r"host_o frame \d+: extra frame"):
        board.receive("host_o", out[Port.HOST][0])
    glob, per_sa = counters_of(other)
    key = next(iter(per_sa))
    per_sa[key]["replay"] += 1
    with pytest.raises(Mismatch, match=rf"global rx_plain: .*SA {key[1]:#x} \({key[0]}\) replay"):
        board.check_counters({**glob, "rx_plain": glob["rx_plain"] + 1}, per_sa)


def test_scoreboard_checks_events_as_a_multiset():
    site = SiteMix(6)
    board = Scoreboard(site.model())
    sa = next(iter(board.model.sad))
    board.model.events[:] = [(Event.SOFT_LIFETIME, sa), (Event.HARD_LIFETIME, sa)]
    index = {(s.dir, s.spi): i for i, s in enumerate(board.model.sad)}

    def index_of(dir, spi):
        return index[dir, spi]
    i = index_of(sa.dir, sa.spi)
    board.check_events([("hard_lifetime", i), ("soft_lifetime", i)], index_of)
    board.check_events([("soft_lifetime", i)], index_of, lost=True)
    with pytest.raises(Mismatch, match=r"missing \[\('hard_lifetime', \d+\)\]"):
        board.check_events([("soft_lifetime", i)], index_of)
    with pytest.raises(Mismatch, match=r"unexpected \[\('seq_exhausted', \d+\)\]"):
        board.check_events([("seq_exhausted", i)], index_of, lost=True)


def test_beats_round_trip_and_stall_patterns():
    for n in (0, 1, 15, 16, 17, 64, 1519):
        frame = random.Random(n).randbytes(n)
        beats = [decode_beat(b, 16) for b in encode_frame(frame, 16)]
        assert b"".join(d[:k] for d, k, _, _ in beats) == frame
        assert [(f, last) for _, _, f, last in beats] == [(i == 0, i == len(beats) - 1) for i in range(len(beats))]
    for prob, burst in ((0.3, 1), (0.7, 12)):
        go = Stalls(prob, burst, seed=1)
        on = [go() for _ in range(100_000)]
        assert abs(sum(on) / len(on) - prob) < 0.02
        changes = sum(a != b for a, b in zip(on, on[1:], strict=False))
        assert len(on) / changes > burst  # runs of about `burst` cycles (longer where redraws agree)
