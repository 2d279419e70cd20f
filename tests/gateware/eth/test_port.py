"""The Ethernet MAC end to end: GMII bursts in -> frames on `rx`, frames on `tx` -> GMII
out, under random stalls, with the receive clock unrelated to `sync`; checked against the
frame format restated in `espline.sim.ethernet` (zlib.crc32 for the FCS) and scapy frames.
Every received burst is accounted for: out, or counted under the one reason that applies."""

import random
from collections import Counter

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from espline.gateware.eth.port import COUNTERS, EthernetPort
from espline.sim.ethernet import GAP, burst, fcs, gmii_record, gmii_send, on_the_wire, rx_counter, tally, udp_frame
from espline.sim.packetbus import put_frame, take_frame

PERIOD = 8e-9  # 125 MHz


def run(port, *, bursts=(), tx_frames=(), rx_count=None, tx_count=None, seed=0, stall=0.3, idle=0.3,
        sync_period=PERIOD, rx_period=PERIOD, rx_phase=0.0, rx_hold=0, drain=100, held_back=None):
    """Drive `bursts` into the port's GMII receive side and `tx_frames` into `tx`; take frames
    from `rx` (after holding `rx.ready` low for `rx_hold` cycles); return the frames out, the
    transmitted bursts, the gaps between them and the counters, once `rx_count` frames are out
    (or every burst is counted) and `tx_count` bursts sent (all frames if None), `drain` cycles on;
    `held_back` (a list) gets the number of cycles `tx` was offered a beat and not ready."""
    rng = random.Random(seed)
    top = Module()
    top.domains += [ClockDomain("sync"), ClockDomain("rx")]
    top.submodules.port = port
    got, wire, gaps, counters, busy = [], [], [], dict.fromkeys(COUNTERS, 0), [True, True]

    async def receiver(ctx):
        await gmii_send(ctx, port.gmii, bursts, "rx")
        busy[0] = False

    async def reader(ctx):
        if rx_hold:
            await ctx.tick().repeat(rx_hold)
        while True:
            got.append(await take_frame(ctx, port.rx, port.width, rng, stall))

    async def sender(ctx):
        for frame in tx_frames:
            await put_frame(ctx, port.tx, frame, port.width, rng, idle)
        busy[1] = False

    def rx_counted():
        return sum(value for name, value in counters.items() if name.startswith("rx_"))

    async def finish(ctx):
        while (any(busy) or len(wire) < (len(tx_frames) if tx_count is None else tx_count)
               or (len(got) < rx_count if rx_count is not None else rx_counted() < len(bursts))):
            await ctx.tick()
        await ctx.tick().repeat(drain)

    async def counter(ctx):
        await tally(ctx, port.counts, counters)

    async def recorder(ctx):
        await gmii_record(ctx, port.gmii, wire, gaps)

    async def back_pressure(ctx):
        held_back.append(0)
        async for _, _, valid, ready in ctx.tick().sample(port.tx.valid, port.tx.ready):
            held_back[0] += valid and not ready

    cycles = (sum(len(b[0]) + b[1] for b in bursts) * rx_period / sync_period + rx_hold
              + sum(len(f) + 100 for f in tx_frames) * 2 + 2000 + drain)

    async def watchdog(ctx):
        await ctx.delay(cycles * sync_period)
        raise AssertionError(f"stuck: {len(got)} frames out, {len(wire)} sent")

    sim = Simulator(top)
    sim.add_clock(sync_period, domain="sync")
    sim.add_clock(rx_period, phase=rx_phase, domain="rx")
    for bench in (receiver, sender, finish):
        sim.add_testbench(bench)
    for bench in (reader, recorder, counter, watchdog) + ((back_pressure,) if held_back is not None else ()):
        sim.add_testbench(bench, background=True)
    sim.run()
    return got, wire, gaps, counters


def counted(counters, **expected):
    return {name: value for name, value in counters.items() if value or name in expected} == \
        {name: value for name, value in expected.items() if value or name in counters}


@pytest.mark.parametrize("width", [1, 2, 4, 8])
def test_good_frames_pass_both_ways(width):
    rng = random.Random(width)
    sizes = [60, 61, 62, 63, 64 + width, 127, rng.randint(100, 600), 1514]
    rx_frames = [udp_frame(size, rng) for size in sizes]
    tx_frames = [udp_frame(size, rng) for size in [42, 59, 60, 61, 77, rng.randint(100, 600), 1514]]
    got, wire, gaps, counters = run(EthernetPort(width, rx_domain="rx"), seed=width,
                                    bursts=[burst(f, rng.randint(GAP, 20)) for f in rx_frames],
                                    tx_frames=tx_frames, rx_count=len(rx_frames))
    assert got == rx_frames
    assert wire == [on_the_wire(f) for f in tx_frames]
    assert min(gaps) >= GAP
    assert counted(counters, rx_frames=len(rx_frames), tx_frames=len(tx_frames))


@pytest.mark.parametrize("width", [2, 8])
def test_bad_frames_are_dropped_and_counted_once(width):
    max_frame = 300
    rng = random.Random(10 + width)
    good = [udp_frame(rng.randint(60, 250), rng) for _ in range(8)]
    bursts = [
        burst(good[0]),
        burst(udp_frame(100, rng), good_fcs=False),  # bad FCS
        burst(good[1]),
        burst(udp_frame(59, rng)),  # runt: 63 bytes with FCS
        burst(good[2][:42] + bytes(18)),  # 64 bytes with FCS: the smallest good frame
        burst(udp_frame(max_frame - 3, rng)),  # oversize by one byte (with FCS)
        burst(udp_frame(max_frame - 4, rng)),  # the largest good frame
        burst(udp_frame(200, rng), error_at=60),  # rx_er in the frame
        (b"\x55\x55\x55\x12\x34" + bytes(70), GAP, None),  # a carrier without SFD
        (b"\x55" * 7, GAP, None),  # a preamble alone
        burst(good[3], error_at=3),  # rx_er in the preamble
        (b"\xd5" + good[4] + fcs(good[4]), GAP, None),  # no preamble: a good frame
        burst(good[5][:2], 1),  # a runt of 6 bytes, a gap of one clock
        burst(good[6], GAP),
        burst(udp_frame(61, rng), 5, good_fcs=False),
        burst(good[7]),
    ] + [(b"\x55", 1, None)] * 20  # one-byte carriers one clock apart: an outcome every other clock
    kept = [b[0][8:-4] if b[0][0] == 0x55 else b[0][1:-4] for b in bursts
            if rx_counter(*b[::2], max_frame) == "rx_frames"]
    assert len(kept) == 7  # what the list above means to do
    port = EthernetPort(width, rx_domain="rx", max_frame=max_frame, rx_fifo=512, tx_fifo=512)
    got, _, _, counters = run(port, seed=width, bursts=bursts, rx_count=len(kept))
    assert got == kept
    assert counted(counters, **Counter(rx_counter(octets, error_at, max_frame) for octets, _, error_at in bursts))
    assert sum(counters.values()) == len(bursts)


def test_receive_overflow_drops_whole_frames_and_the_next_passes():
    """`rx` held back: frames that do not fit what is left of the receive FIFO are dropped whole
    and counted; the others come out intact and in order once `rx` moves."""
    rng = random.Random(3)
    frames = [udp_frame(rng.randint(200, 400), rng) for _ in range(8)]
    port = EthernetPort(4, rx_domain="rx", max_frame=512, rx_fifo=1024, tx_fifo=512)
    got, _, _, counters = run(port, seed=3, bursts=[burst(f) for f in frames], rx_hold=1500, stall=0.5, drain=800)
    assert counters["rx_overflow"] >= 1
    assert counters["rx_frames"] == len(got) and len(got) + counters["rx_overflow"] == len(frames)
    position = 0
    for frame in got:  # in order, each one whole
        position = frames.index(frame, position) + 1
    assert got[-1] == frames[-1]


@pytest.mark.parametrize("width, sizes", [(1, [100]), (8, [42, 60, 100, 300])])
def test_transmit_back_to_back_keeps_the_gap(width, sizes):
    """Frames offered without a pause leave exactly 12 idle byte times apart (with one byte a
    beat only if the next frame is as long as the one being sent: it is sent once whole)."""
    rng = random.Random(width)
    frames = [udp_frame(rng.choice(sizes), rng) for _ in range(10)]
    _, wire, gaps, counters = run(EthernetPort(width, rx_domain="rx"), tx_frames=frames, idle=0)
    assert wire == [on_the_wire(f) for f in frames]
    assert gaps == [GAP] * (len(frames) - 1)
    assert counted(counters, tx_frames=len(frames))


def test_transmit_back_pressure():
    """A source faster than the line fills the transmit FIFO: `tx` holds it back, every frame
    leaves intact and in order."""
    rng = random.Random(9)
    frames = [udp_frame(rng.randint(100, 400), rng) for _ in range(8)]
    held_back = []
    port = EthernetPort(8, rx_domain="rx", max_frame=512, rx_fifo=512, tx_fifo=512)
    _, wire, gaps, _ = run(port, tx_frames=frames, idle=0, held_back=held_back)
    assert wire == [on_the_wire(f) for f in frames]
    assert held_back[0] > 500 and min(gaps) >= GAP


def test_transmit_drops_oversize_and_empty_frames():
    rng = random.Random(4)
    frames = [udp_frame(size, rng) if size else b"" for size in (100, 297, 0, 296, 600, 64)]
    sent = [frames[0], frames[3], frames[5]]  # 300 bytes with FCS at most
    port = EthernetPort(4, rx_domain="rx", max_frame=300, rx_fifo=512, tx_fifo=512)
    _, wire, _, counters = run(port, tx_frames=frames, tx_count=len(sent))
    assert wire == [on_the_wire(f) for f in sent]
    assert counted(counters, tx_frames=3, tx_oversize=2, tx_empty=1)


@pytest.mark.parametrize("sync_period, rx_phase", [(7.9e-9, 3.3e-9), (8.1e-9, 5.1e-9)])
@pytest.mark.parametrize("width", [1, 4])
def test_unrelated_receive_clock(width, sync_period, rx_phase):
    """Receive clock 8.0 ns, `sync` 7.9 or 8.1 ns, out of phase: every frame out intact or
    counted under its reason; back-to-back bursts at the minimum gap."""
    rng = random.Random(width)
    bursts = []
    for i in range(16):
        frame = udp_frame(rng.choice([60, 61, 90, 200, 333]), rng)
        bursts.append(burst(frame, GAP, 30 if i % 7 == 3 else None, good_fcs=i % 5 != 2))
    bursts.insert(5, burst(udp_frame(50, rng)))
    kept = [b[0][8:-4] for b in bursts if rx_counter(b[0], b[2], 1518) == "rx_frames"]
    got, wire, _, counters = run(EthernetPort(width, rx_domain="rx"), seed=width, bursts=bursts, rx_count=len(kept),
                                 tx_frames=kept[:6], stall=0.3 if width > 1 else 0.0,
                                 sync_period=sync_period, rx_phase=rx_phase)
    assert got == kept
    assert wire == [on_the_wire(f) for f in kept[:6]]
    assert counters["rx_bad_fcs"] and counters["rx_error"] and counters["rx_runt"]
    assert counters["rx_frames"] + counters["rx_bad_fcs"] + counters["rx_error"] + counters["rx_runt"] == len(bursts)
    assert counters["rx_overflow"] == 0


def test_latency_as_documented():
    """docs/ethernet.md's figures, in clock cycles from the one in which the last FCS byte is on
    GMII (the last beat is taken on `tx`): the first beat valid on `rx` in cycle 10 after it; the
    first preamble byte on GMII in cycle 5 after it."""
    port = EthernetPort(4, rx_domain="rx")
    top = Module()
    top.domains += [ClockDomain("sync"), ClockDomain("rx")]
    top.submodules.port = port
    frame = udp_frame(100, random.Random(6))
    cycles = {}

    async def bench(ctx):
        ctx.set(port.rx.ready, 1)
        await ctx.tick().repeat(5)
        octets, _, _ = burst(frame)
        for octet in octets:
            ctx.set(port.gmii.rx_data, octet)
            ctx.set(port.gmii.rx_dv, 1)
            await ctx.tick()
        ctx.set(port.gmii.rx_dv, 0)
        cycles["rx"] = 1  # the cycle after the one with the last FCS byte
        while not ctx.get(port.rx.valid):
            await ctx.tick()
            cycles["rx"] += 1
        await put_frame(ctx, port.tx, frame, 4, random.Random(0))  # returns after the last beat's edge
        cycles["tx"] = 1
        while not ctx.get(port.gmii.tx_en):
            await ctx.tick()
            cycles["tx"] += 1

    sim = Simulator(top)
    sim.add_clock(PERIOD, domain="sync")
    sim.add_clock(PERIOD, domain="rx")
    sim.add_testbench(bench)
    sim.run()
    assert cycles == {"rx": 10, "tx": 5}
