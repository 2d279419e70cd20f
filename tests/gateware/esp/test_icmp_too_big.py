"""The ICMP too-big block against the reference model (`espline.sim.model.icmp`, itself checked
against scapy): the same frames, the jobs the outbound control would give them, random gaps on
the tap and random stalls on `o`; the answers byte for byte and the counts pulse for pulse."""

import random

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.layers.l2 import Dot1Q, Ether

from espline.gateware.esp.icmp_too_big import IcmpTooBig
from espline.gateware.esp.outbound_control import job_layout
from espline.sim.model import Appliance, Policy, Port, Reason, Selector
from espline.sim.packetbus import beats, simulate, take_frame
from espline.sim.sites import two_sites

N_SA = 4


def mix(rng: random.Random, n: int, mode: str) -> list[bytes]:
    """Plaintext frames: too big or not, DF or not, tagged or not, with options, ICMP errors."""
    frames = []
    for _ in range(n):
        src, dst = ("192.0.2.1", "198.51.100.2") if mode == "transport" else ("10.1.0.5", "10.2.0.9")
        kind = rng.choice(["tcp", "tcp", "udp", "icmp-error", "icmp-echo", "multicast"])
        l4 = {"tcp": TCP(sport=rng.randrange(1, 65536), dport=5001, flags="A"), "udp": UDP(dport=53),
              "icmp-error": ICMP(type=rng.choice([3, 11])), "icmp-echo": ICMP(type=8),
              "multicast": UDP(dport=5000)}[kind]
        if kind == "multicast":
            dst = "239.0.0.1"
        options = [IPOption(b"\x01" * 4 * rng.randrange(1, 11))] if rng.random() < 0.3 else []
        df = "DF" if rng.random() < 0.8 else 0
        ip = IP(src=src, dst=dst, flags=df, id=rng.randrange(65536), options=options) / l4
        size = rng.choice([rng.randrange(len(ip), 200), rng.randrange(1300, 1600)])
        ip = ip / rng.randbytes(max(0, size - len(ip)))
        eth = Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:01")
        frames.append(bytes(eth / Dot1Q(vlan=rng.randrange(4096)) / ip if rng.random() < 0.3 else eth / ip))
    return frames


def run(frames, *, mode="tunnel", natt=False, icv=16, mtu=1400, every=16, burst=4, seed=1, gap=0.3,
        stall=0.3, hold=0, width=16, tight=False):
    a, _ = two_sites(mode, natt=natt, icv=icv)
    sa = next(s for s in a.sad if s.dir == "out")
    model = Appliance([sa], [Policy("out", Selector(), "protect", sa.spi)], mtu=mtu, icmp_every=every,
                      icmp_burst=burst)
    verdicts = [model.process(Port.PLAIN, f) for f in frames]
    dut = IcmpTooBig(job_layout(N_SA), mtu=mtu, every=every, burst=burst, width=width)
    rng = random.Random(seed)
    outer = bytes(12) + sa.src_bytes + bytes(4)  # the job's outer header: the SA's source at 12..15
    got, pulses, done = [], {name: 0 for name in ("icmp_sent", "icmp_limited", "icmp_lost")}, []

    async def tap(ctx):
        for frame, verdict in zip(frames, verdicts, strict=True):
            if not tight:  # else each job is taken the cycle after the last beat (frame_join.py)
                await ctx.tick().repeat(1 + rng.randrange(3))
            ctx.set(dut.job, {"too_big": verdict.reason is Reason.TOO_BIG, "tunnel": mode == "tunnel", "natt": natt,
                              "outer": int.from_bytes(outer, "little"), "gcm": {"icv_len": icv}})
            ctx.set(dut.job_taken, 1)
            await ctx.tick()
            ctx.set(dut.job_taken, 0)
            for beat in beats(frame, dut.width):
                while rng.random() < gap:
                    await ctx.tick()
                ctx.set(dut.beat, beat)
                ctx.set(dut.beat_taken, 1)
                await ctx.tick()
                ctx.set(dut.beat_taken, 0)
        await ctx.tick().repeat(20 + 128 // dut.width)  # the last answer written, a beat a cycle
        done.append(1)

    async def counts(ctx):
        async for _, _, sent, limited, lost in ctx.tick().sample(
                dut.counts.icmp_sent, dut.counts.icmp_limited, dut.counts.icmp_lost):
            pulses["icmp_sent"] += sent
            pulses["icmp_limited"] += limited
            pulses["icmp_lost"] += lost

    async def reader(ctx):
        if hold:
            await ctx.tick().repeat(hold)
        while not done or ctx.get(dut.o.valid):
            if ctx.get(dut.o.valid):
                got.append(await take_frame(ctx, dut.o, dut.width, rng, stall))
            else:
                await ctx.tick()

    simulate(dut, tap, reader, background=[counts], cycles=20 * sum(map(len, frames)) + 2000 + hold)
    return got, [v.answer for v in verdicts if v.answer is not None], pulses, model.counters


@pytest.mark.parametrize("mode,natt,icv,seed,width", [("tunnel", False, 16, 1, 16), ("tunnel", True, 8, 2, 4),
                                                      ("transport", False, 12, 3, 16), ("transport", True, 16, 4, 4)])
def test_answers_as_the_model(mode, natt, icv, seed, width):
    """At the default bus width and the gigabit build's (espline.gateware.builds)."""
    frames = mix(random.Random(seed), 80, mode)
    got, want, pulses, counters = run(frames, mode=mode, natt=natt, icv=icv, seed=seed, every=8, burst=2,
                                      width=width)
    assert len(want) >= 5 and counters.icmp_limited >= 3, "the mix should answer some and limit some"
    assert got == want
    assert pulses == {"icmp_sent": counters.icmp_sent, "icmp_limited": counters.icmp_limited, "icmp_lost": 0}


def test_a_blocked_reader_loses_whole_answers_and_counts_them():
    """`o` held while 12 answers are due: the 512-byte queue keeps the first four (8 beats of 16
    bytes each at most), the rest are lost and counted; nothing is held up."""
    rng = random.Random(7)
    ip = IP(src="10.1.0.5", dst="10.2.0.9", flags="DF", options=[IPOption(b"\x01" * 40)]) / TCP()
    frame = bytes(Ether() / Dot1Q(vlan=5) / ip / rng.randbytes(1400))  # 114-byte answers: 8 beats
    got, want, pulses, _ = run([frame] * 12, every=1, burst=1, hold=5000, stall=0)
    assert len(want) == 12 and got == want[:4] and pulses["icmp_lost"] == 8 and pulses["icmp_sent"] == 12


def shortest(rng: random.Random, n: int) -> list[bytes]:
    """Too-big frames for `mtu` 576 (530 to 570 IPv4 bytes), DF, tagged or not, with options or not."""
    frames = []
    for _ in range(n):
        options = [IPOption(b"\x01" * 4 * rng.randrange(1, 11))] if rng.random() < 0.5 else []
        ip = IP(src="10.1.0.5", dst="10.2.0.9", flags="DF", id=rng.randrange(65536), options=options) / TCP()
        ip = ip / rng.randbytes(rng.randrange(530, 570) - len(ip))
        eth = Ether(src="02:00:00:00:00:05", dst="02:00:00:00:00:01")
        frames.append(bytes(eth / Dot1Q(vlan=rng.randrange(4096)) / ip if rng.random() < 0.5 else eth / ip))
    return frames


@pytest.mark.parametrize("width", [4, 16])
def test_shortest_too_big_frames_back_to_back(width):
    """The shortest too-big frames (`mtu` 576), each job taken the cycle after the previous
    frame's last beat and no gap between beats: each answer is written and decided before the
    next, whatever its tag and options, while `o` stalls."""
    got, want, pulses, counters = run(shortest(random.Random(width), 24), mtu=576, every=1, burst=2, gap=0,
                                      stall=0.3, width=width, tight=True, seed=width)
    assert len(want) == 24
    assert got == want
    assert pulses == {"icmp_sent": counters.icmp_sent, "icmp_limited": counters.icmp_limited, "icmp_lost": 0}


@pytest.mark.parametrize("width", [4, 16])
def test_a_slow_reader_loses_whole_answers_while_the_queue_fills(width):
    """`o` mostly stalled while answers come back to back: the queue fills and drains as answers
    are written into it, and each answer comes out whole and as the model's, in order, or is
    lost and counted."""
    got, want, pulses, _ = run(shortest(random.Random(10 + width), 40), mtu=576, every=1, burst=40, gap=0,
                               stall=0.9, width=width, tight=True, seed=width)
    assert pulses["icmp_sent"] == len(want) == 40 and 5 <= pulses["icmp_lost"] <= 35
    assert len(got) + pulses["icmp_lost"] == len(want)
    kept = iter(want)
    assert all(answer in kept for answer in got), "an answer out of order or not the model's"
