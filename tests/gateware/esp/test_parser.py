"""The frame parser against the reference model's own parsing, field by field."""

import random

import pytest
from scapy.layers.inet import IP, UDP, IPOption_RR
from scapy.layers.l2 import Dot1Q, Ether

from espline.gateware.esp.parser import FrameParser
from espline.sim.model import Port, frame, ipv4, spd
from espline.sim.model.accounting import Drop
from espline.sim.packetbus import put_frame, simulate, take_frame
from espline.sim.sites import hosts, two_sites
from espline.sim.traffic import arp_frame, ethernet, ip_packet


def expected(f: bytes) -> dict:
    """What the model makes of a frame: the fields the parser must agree on."""
    try:
        l2, ethertype = frame.split(f)
    except Drop:
        return {"malformed": 1}
    out = {"malformed": 0, "length": len(f), "l2_len": l2, "ipv4": int(ethertype == 0x0800),
           "ipv6": int(ethertype == 0x86DD)}
    if ethertype != 0x0800:
        return out
    packet = f[l2:]
    ihl = ipv4.header_length(packet)
    if ihl is None:
        return {**out, "malformed": 1}
    packet = packet[: ipv4.total_length(packet)]
    src, dst, proto, ports = spd.packet_fields(packet, ihl)
    out.update(ihl=ihl // 4, total_length=len(packet), tos=packet[1], proto=proto, src=src, dst=dst,
               fragment=int(ipv4.is_fragment(packet)), df=packet[6] >> 6 & 1, has_ports=int(ports is not None))
    if ports:
        out.update(sport=ports[0], dport=ports[1])
        if proto == 17 and len(packet) >= ihl + 8:
            out["udp_length"] = int.from_bytes(packet[ihl + 4 : ihl + 6], "big")
    out["l4"] = packet[ihl : ihl + 24]
    return out


def frames(rng):
    a, _ = two_sites("tunnel", natt=True)
    t, _ = two_sites("transport")
    good = [ethernet(ip_packet(rng.randint(28, 300), *hosts("tunnel"), rng.choice(("udp", "tcp", "icmp")),
                               seed=i), vlan=rng.choice((None, 7))) for i in range(30)]
    good += [a.process(Port.PLAIN, f).frame for f in good[:8]]  # ESP in UDP/4500
    good += [t.process(Port.PLAIN, ethernet(ip_packet(100, *hosts("transport"), seed=i))).frame for i in range(4)]
    good += [bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_RR(routers=["1.1.1.1"] * n)])
                   / UDP(sport=1, dport=2) / (b"x" * 9)) for n in range(1, 9)]  # IHL 6..14
    good += [bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", frag=f, flags=mf) / UDP() / b"abc")
             for f, mf in ((0, 1), (3, 0), (3, 1))]
    good += [arp_frame(), bytes(Ether(type=0x86DD)) + bytes(60), bytes(Ether() / Dot1Q() / Dot1Q() / IP())]
    good.append(ethernet(ip_packet(60, "1.2.3.4", "5.6.7.8")) + bytes(10))  # Ethernet padding
    good += [ethernet(ip_packet(80, "1.2.3.4", "5.6.7.8", df=True), vlan=v) for v in (None, 9)]
    good += [bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", proto=p) / tail)  # too short for ports
             for p, tail in ((17, b""), (6, b"\1\2"), (132, b"\1\2\3"))]
    bad = []
    for _ in range(60):
        f = bytearray(rng.choice(good))
        for _ in range(rng.randint(1, 3)):
            f[rng.randrange(min(len(f), 60))] ^= 1 << rng.randrange(8)
        bad.append(bytes(f[: rng.randint(0, len(f))] if rng.random() < 0.3 else f))
    bad += [b"", bytes(5), bytes(13), bytes(12) + b"\x81\x00\x00"]
    bad = [f for f in bad if f]  # the bus has no empty frames
    mixed = good + bad
    rng.shuffle(mixed)
    return mixed


@pytest.mark.parametrize("width", [2, 4, 16])
def test_parser_agrees_with_the_model(width):
    rng = random.Random(3)
    inputs = frames(rng)
    dut = FrameParser(width=width)
    records, passed = [], []

    async def source(ctx):
        for f in inputs:
            await put_frame(ctx, dut.i, f, width, rng, idle=0.2)

    async def sink(ctx):
        for _ in inputs:
            passed.append(await take_frame(ctx, dut.o, width, rng, stall=0.2))

    async def parsed(ctx):
        for _ in inputs:
            while rng.random() < 0.2:
                await ctx.tick()
            ctx.set(dut.parsed.ready, 1)
            record, = await ctx.tick().sample(dut.parsed.payload).until(dut.parsed.valid)
            ctx.set(dut.parsed.ready, 0)
            records.append(record)

    simulate(dut, source, sink, parsed, cycles=20 * sum(map(len, inputs)),
             stuck=lambda: f"stuck after {len(passed)} frames and {len(records)} records of {len(inputs)}")

    assert passed == inputs
    for f, record in zip(inputs, records, strict=True):
        want = expected(f)
        got = {name: getattr(record, name) for name in want if name != "l4"}
        got = {k: (int(v) if not isinstance(v, int) else v) for k, v in got.items()}
        assert got == {k: v for k, v in want.items() if k != "l4"}, f.hex()
        if "l4" in want:
            n = len(want["l4"])
            assert int(record.l4).to_bytes(24, "little")[:n] == want["l4"], f.hex()


def test_bytes_of_an_earlier_frame_do_not_count():
    """A short untagged frame after a stacked-tag frame: the header bytes it lacks still hold the
    earlier frame's (found by the appliance bench: the short frame passed as non-IP)."""
    stacked = bytes(Ether() / Dot1Q() / Dot1Q() / IP() / UDP() / (b"x" * 40))
    short = ethernet(ip_packet(60, "1.2.3.4", "5.6.7.8"))[:16]
    inputs = [stacked, short, stacked, short[:15], stacked, bytes(Ether(type=0x86DD))[:14] + b"\0\0"]
    dut = FrameParser(width=16)
    records = []

    async def source(ctx):
        for f in inputs:
            await put_frame(ctx, dut.i, f, 16, random.Random(0))

    async def sink(ctx):
        for _ in inputs:
            await take_frame(ctx, dut.o, 16, random.Random(0))

    async def parsed(ctx):
        ctx.set(dut.parsed.ready, 1)
        for _ in inputs:
            record, = await ctx.tick().sample(dut.parsed.payload).until(dut.parsed.valid)
            records.append(record)

    simulate(dut, source, sink, parsed)
    for f, record in zip(inputs, records, strict=True):
        want = expected(f)
        assert {k: int(getattr(record, k)) for k in ("malformed", "ipv4", "ipv6") if k in want} == \
            {k: want[k] for k in ("malformed", "ipv4", "ipv6") if k in want}, f.hex()


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
@pytest.mark.parametrize("width", [3, 36])
def test_widths_it_cannot_parse_at_are_refused(width):
    with pytest.raises(ValueError, match="not an even number of bytes up to 34"):
        FrameParser(width=width)
