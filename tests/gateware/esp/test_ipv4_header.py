"""The IPv4 header decoder against the reference model's checks, as the decapsulation uses it on
an inner packet (the bytes after the header picked out by `after_header`, from 64 head bytes)
and the frame parser (24 of them), the available length independent of the bytes shown. The header
checksum's verdict comes from the model (streamed by `HeaderChecksum`, tested on its own); for
a header not within the available bytes it is random: it must not matter."""

import ipaddress
import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from scapy.layers.inet import IP, TCP, UDP, IPOption_RR

from espline.gateware.esp.ipv4_header import IPv4Decoder, after_header
from espline.sim.model import ipv4, spd


def packets(rng):
    def addr():
        return str(ipaddress.IPv4Address(rng.randrange(1 << 32)))

    good = [bytes(IP(src=addr(), dst=addr(), tos=rng.randrange(256),
                     options=[IPOption_RR(routers=["1.1.1.1"] * n)] if n else [],
                     frag=rng.choice((0, 0, 0, 5)), flags=rng.choice((0, 0, 1, 2)))
                  / rng.choice((UDP(sport=rng.randrange(1 << 16), dport=4500), TCP(sport=80), b""))
                  / rng.randbytes(rng.randint(0, 40)))
            for n in list(range(9)) * 6]
    good += [bytes(IP(proto=p) / tail) for p in (6, 17, 132, 1) for tail in (b"", b"\1\2\3", b"\1\2\3\4")]
    for ihl in range(5, 16):  # every header length, random options and payload
        for _ in range(3):
            body = rng.randbytes(rng.randint(0, 30))
            h = bytearray(rng.randbytes(4 * ihl))
            h[0], h[2:4], h[6] = 0x40 | ihl, (4 * ihl + len(body)).to_bytes(2, "big"), h[6] & 0x1F
            h[9] = rng.choice((6, 17, 132, 50))
            good.append(ipv4.with_checksum(h) + body)
    cases = []
    for p in good:
        cases.append((p, len(p)))
        cases.append((p + rng.randbytes(rng.randint(1, 20)), len(p) + rng.randint(0, 20)))  # TFC padding
        cases.append((p, rng.randint(0, len(p) - 1)))  # shorter than its total length
        f = bytearray(p)
        f[rng.randrange(min(len(f), 64))] ^= 1 << rng.randrange(8)
        cases.append((bytes(f), len(f)))
    return cases


def expected(packet: bytes, available: int) -> dict:
    ihl = ipv4.header_length(packet[:available])
    if ihl is None:
        return {"ok": 0}
    src, dst, proto, ports = spd.packet_fields(packet[:available], ihl)
    out = {"ok": 1, "ihl": ihl // 4, "total_length": ipv4.total_length(packet), "tos": packet[1],
           "fragment": int(ipv4.is_fragment(packet)), "df": packet[6] >> 6 & 1, "proto": proto, "src": src, "dst": dst,
           "has_ports": int(ports is not None)}
    if ports:
        out.update(sport=ports[0], dport=ports[1])
    return out


@pytest.mark.parametrize("head_bytes,l4_bytes", [(64, 4), (84, 24)])
def test_decoder_agrees_with_the_model(head_bytes, l4_bytes):
    rng = random.Random(head_bytes)
    cases = packets(rng)
    m, head = Module(), Signal(8 * head_bytes)
    m.submodules.decoder = dut = IPv4Decoder(l4_bytes)
    m.d.comb += dut.header.eq(head[: 8 * 20])
    after_header(m, head, dut.l4)

    async def bench(ctx):
        for packet, available in cases:
            ctx.set(head, int.from_bytes(packet[:head_bytes], "little"))
            ctx.set(dut.available, available)
            within = 4 * (packet[0] & 0xF) <= available
            ctx.set(dut.checksum_ok, ipv4.checksum(packet[: 4 * (packet[0] & 0xF)]) == 0 if within
                    else rng.randrange(2))
            got = ctx.get(dut.fields)
            want = expected(packet, available)
            assert {k: int(getattr(got, k)) for k in want} == want, (packet.hex(), available)
            if want["ok"]:
                after = packet[want["ihl"] * 4 : want["ihl"] * 4 + l4_bytes]
                assert int(got.l4).to_bytes(l4_bytes, "little")[: len(after)] == after

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
