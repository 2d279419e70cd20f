"""The MAC (`espline.gateware.eth.port.EthernetPort`, 4-byte beats) in cocotb against
cocotbext-eth's GMII or RGMII source and sink (`ETHTB_LEVEL`: `gmii` for the MAC alone, `rgmii`
for `espline.sim.ethernet.RgmiiPort`): frames in on a receive clock of 8.1 ns out of phase
with `sync` (8 ns), good ones out on `rx`, the bad ones counted; frames sent on `tx` come out
with preamble, SFD, padding and an FCS that cocotbext-eth checks. Run by
tests/gateware/eth/test_port_cocotb.py (Icarus)."""

import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge, Timer
from cocotbext.eth import GmiiFrame, GmiiSink, GmiiSource, RgmiiSink, RgmiiSource

from espline.gateware.eth.port import COUNTERS

from .ethernet import fcs, padded, udp_frame

WIDTH = 4
BEAT = {"data": (0, 8 * WIDTH), "nbytes": (8 * WIDTH, 3), "first": (8 * WIDTH + 3, 1), "last": (8 * WIDTH + 4, 1)}


def field(value: int, name: str) -> int:
    offset, size = BEAT[name]
    return value >> offset & ((1 << size) - 1)


async def put(dut, frames, rng):
    """Offer `frames` on `tx`, idling randomly; values change at the falling edge, and a beat is
    taken at the rising edge after one where `ready` was high (sampled once settled)."""
    for frame in frames:
        for i in range(0, len(frame), WIDTH):
            chunk = frame[i : i + WIDTH]
            while True:
                await FallingEdge(dut.clk)
                if rng.random() < 0.3:
                    dut.tx__valid.value = 0
                    continue
                dut.tx__valid.value = 1
                dut.tx__payload.value = (int.from_bytes(chunk, "little") | len(chunk) << BEAT["nbytes"][0]
                                         | (i == 0) << BEAT["first"][0] | (i + WIDTH >= len(frame)) << BEAT["last"][0])
                await ReadOnly()
                if dut.tx__ready.value:
                    break
    await FallingEdge(dut.clk)
    dut.tx__valid.value = 0


async def take(dut, count, rng):
    """Take `count` frames from `rx`, stalling randomly (as `put` times its handshakes)."""
    frames, frame = [], b""
    while len(frames) < count:
        await FallingEdge(dut.clk)
        ready = rng.random() < 0.7
        dut.rx__ready.value = ready
        await ReadOnly()
        if ready and dut.rx__valid.value:
            beat = int(dut.rx__payload.value)
            assert field(beat, "first") == (frame == b"")
            frame += field(beat, "data").to_bytes(WIDTH, "little")[: field(beat, "nbytes")]
            if field(beat, "last"):
                frames.append(frame)
                frame = b""
    await FallingEdge(dut.clk)
    dut.rx__ready.value = 0
    return frames


async def tally(dut, counted):
    """Add up the pulses on `counts` (one per frame counted), by counter, a sample a clock."""
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        value = int(dut.counts.value)
        for i, name in enumerate(COUNTERS):
            counted[name] += value >> i & 1


@cocotb.test(timeout_time=100, timeout_unit="us")  # about 9 us when it passes
async def mac_against_cocotbext_eth(dut):
    rng = random.Random(7)
    Clock(dut.clk, 8, unit="ns").start()
    dut.rst.value = dut.rx_rst.value = 1
    dut.tx__valid.value = dut.rx__ready.value = 0
    if os.environ.get("ETHTB_LEVEL", "gmii") == "rgmii":
        await Timer(2, unit="ns")
        Clock(dut.phy_tx_clk, 8, unit="ns").start()  # samples the transmit pins mid-half
        await Timer(1300, unit="ps")
        Clock(dut.rx_clk, 8100, unit="ps").start()
        source = RgmiiSource(dut.rgmii_rxd, dut.rgmii_rx_ctl, dut.rx_clk, dut.rx_rst)
        sink = RgmiiSink(dut.rgmii_txd, dut.rgmii_tx_ctl, dut.phy_tx_clk, dut.rst)
    else:
        await Timer(3300, unit="ps")
        Clock(dut.rx_clk, 8100, unit="ps").start()
        source = GmiiSource(dut.gmii__rx_data, dut.gmii__rx_er, dut.gmii__rx_dv, dut.rx_clk, dut.rx_rst)
        sink = GmiiSink(dut.gmii__tx_data, dut.gmii__tx_er, dut.gmii__tx_en, dut.clk, dut.rst)
    await ClockCycles(dut.clk, 5)
    dut.rst.value = dut.rx_rst.value = 0
    counters = dict.fromkeys(COUNTERS, 0)
    cocotb.start_soon(tally(dut, counters))
    await ClockCycles(dut.clk, 5)

    good = [udp_frame(size, rng) for size in (60, 61, 64, 333, 1514)]
    bad_fcs = udp_frame(100, rng)
    errored = GmiiFrame.from_payload(udp_frame(90, rng))
    errored.error = [0] * 40 + [1] + [0] * (len(errored.data) - 41)
    for frame in (GmiiFrame.from_payload(good[0]), GmiiFrame.from_raw_payload(bad_fcs + bytes(4)),
                  GmiiFrame.from_payload(good[1]), GmiiFrame.from_payload(udp_frame(59, rng), min_len=0),  # runt
                  errored, *(GmiiFrame.from_payload(f) for f in good[2:])):
        await source.send(frame)
    sent = [udp_frame(size, rng) for size in (42, 59, 60, 200, 1514)]
    cocotb.start_soon(put(dut, sent, rng))

    got = await take(dut, len(good), rng)
    assert got == good, f"frames out of {[len(f) for f in got]} bytes, sent {[len(f) for f in good]}"
    for frame in sent:
        out = await sink.recv()
        assert out.data[: out.get_preamble_len()] == bytes([0x55] * (out.get_preamble_len() - 1) + [0xD5])
        assert out.get_payload(strip_fcs=False) == padded(frame) + fcs(padded(frame))
        assert out.check_fcs() and out.error is None
    await ClockCycles(dut.clk, 100)
    assert {k: v for k, v in counters.items() if v} == {
        "rx_frames": len(good), "rx_bad_fcs": 1, "rx_runt": 1, "rx_error": 1, "tx_frames": len(sent)}, counters
