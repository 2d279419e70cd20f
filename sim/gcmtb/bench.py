"""cocotb test module for the GCM engine (Verilator or Icarus via cocotb's Python runner).

One coroutine drives all three streams cycle by cycle from whole-packet queues (one
RisingEdge + one ReadOnly per cycle), with optional random valid/ready stalls, and checks
every output beat against :func:`.packets.expected_beats`. Selected by environment:

``GCM_SUITE`` (nist | nist_all | random | throughput), ``GCM_COUNT``, ``GCM_MAXLEN``,
``GCM_SEED``, ``GCM_VALID_PROB``, ``GCM_READY_PROB``, ``GCM_RESULT`` (JSON path for cycle stamps).
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from espline.gateware.crypto.gcm import GCMBeat, GCMCommand
from espline.sim.gcmtb.packets import (
    encode,
    expected_beats,
    load_nist,
    random_packet,
    throughput_packets,
)


def _packets():
    suite = os.environ.get("GCM_SUITE", "nist")
    count = int(os.environ.get("GCM_COUNT", "20"))
    seed = int(os.environ.get("GCM_SEED", "1"))
    if suite == "nist":
        return load_nist(subset=True)
    if suite == "nist_all":
        return load_nist(subset=False)
    if suite == "throughput":
        return throughput_packets(count, int(os.environ.get("GCM_MAXLEN", "1500")))
    rng = random.Random(seed)
    return [random_packet(rng, max_len=int(os.environ.get("GCM_MAXLEN", "512"))) for _ in range(count)]


async def run_packets(dut, packets, *, seed=1, valid_prob=1.0, ready_prob=1.0, max_cycles=10_000_000):
    """Drive ``packets`` through the DUT; return the cycle stamps of every transfer."""
    rng = random.Random(seed)
    cmds = [GCMCommand.const(c).as_value().value for c, _ in map(encode, packets)]
    beats = [b for p in packets for b in encode(p)[1]]
    expect = [b for p in packets for b in expected_beats(p)]
    stamps = {"cmd": [], "i": [], "o": [], "last_in": [], "o_last": []}
    # index of the last input beat of each packet (for latency)
    ends, n = set(), 0
    for p in packets:
        n += len(encode(p)[1])
        ends.add(n - 1)

    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.cmd__valid.value = 0
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0

    ci = ii = oi = 0
    cyc = 0
    cur_c = cur_i = None
    while oi < len(expect):
        # Stream rule: once valid is up it stays up (payload stable) until the transfer.
        cv = ci < len(cmds) and (cur_c == ci or valid_prob >= 1.0 or rng.random() < valid_prob)
        iv = ii < len(beats) and (cur_i == ii or valid_prob >= 1.0 or rng.random() < valid_prob)
        rdy = ready_prob >= 1.0 or rng.random() < ready_prob
        dut.cmd__valid.value = int(cv)
        if cv and cur_c != ci:
            dut.cmd__payload.value = cmds[ci]
            cur_c = ci
        dut.i__valid.value = int(iv)
        if iv and cur_i != ii:
            dut.i__payload.value = beats[ii]
            cur_i = ii
        dut.o__ready.value = int(rdy)
        await ReadOnly()
        if cv and dut.cmd__ready.value:
            stamps["cmd"].append(cyc)
            ci += 1
        if iv and dut.i__ready.value:
            stamps["i"].append(cyc)
            if ii in ends:
                stamps["last_in"].append(cyc)
            ii += 1
        if rdy and dut.o__valid.value:
            g = GCMBeat.from_bits(int(dut.o__payload.value))
            got = (int(g.data), int(g.nbytes), int(g.last), int(g.ok) if g.last else 0)
            assert got == expect[oi], f"beat {oi}: got {got}, expected {expect[oi]}"
            stamps["o"].append(cyc)
            if got[2]:
                stamps["o_last"].append(cyc)
            oi += 1
        await RisingEdge(dut.clk)
        cyc += 1
        assert cyc < max_cycles, "timeout"
    return stamps


@cocotb.test()
async def gcm_packets(dut):
    packets = _packets()
    stamps = await run_packets(
        dut, packets, seed=int(os.environ.get("GCM_SEED", "1")),
        valid_prob=float(os.environ.get("GCM_VALID_PROB", "1.0")),
        ready_prob=float(os.environ.get("GCM_READY_PROB", "1.0")))
    dut._log.info("%d packets, %d output beats, %d cycles", len(packets), len(stamps["o"]),
                  stamps["o"][-1] if stamps["o"] else 0)
    if os.environ.get("GCM_RESULT"):
        with open(os.environ["GCM_RESULT"], "w") as f:
            json.dump(stamps, f)
