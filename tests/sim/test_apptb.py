"""The appliance bench's own parts in Verilator (cocotb module espline.sim.apptb.selftest), on a
stand-in with the appliance's ports: the CSR block with its datapath ports tied off, and three
loopback FIFOs. Built once per session under build/cocotb_apptb_selftest_verilator."""

import functools
import re

import pytest
from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import fifo, wiring
from amaranth.lib.wiring import In, Out

from espline.gateware.csr import wishbone
from espline.gateware.csr.csr import CsrBlock
from espline.gateware.packet import beat_layout, packet_signature
from espline.sim.toolchain import BUILD_ROOT, cocotb_build, cocotb_test

NAME = "apptb_selftest"
WIDTH = 16


class StandIn(wiring.Component):
    """The appliance's ports; CSR block with datapath ports tied off (every table write taken,
    counter snapshots answered with zeros one cycle later); loopbacks through 4-deep FIFOs; and
    a Wishbone port nothing answers; `idle` while the loopbacks are empty."""

    def __init__(self):
        self.csr = CsrBlock()
        super().__init__({
            "plain_i": In(packet_signature(WIDTH)), "cipher_i": In(packet_signature(WIDTH)),
            "host_i": In(packet_signature(WIDTH)),
            "plain_o": Out(packet_signature(WIDTH)), "cipher_o": Out(packet_signature(WIDTH)),
            "host_o": Out(packet_signature(WIDTH)),
            "bus": self.csr.signature.members["bus"],
            "dead": In(wishbone.Signature(8)),  # a bus that never acknowledges
            "irq": Out(1), "idle": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.csr = csr = self.csr
        wiring.connect(m, wiring.flipped(self.bus), csr.bus)
        m.d.comb += [self.irq.eq(csr.irq), csr.sa_write.ready.eq(1), csr.spd_write.ready.eq(1),
                     csr.sa_counter_request.ready.eq(1)]
        pending = Signal()
        with m.If(csr.sa_counter_request.valid):
            m.d.sync += pending.eq(1)
        with m.Elif(csr.sa_counter_response.ready):
            m.d.sync += pending.eq(0)
        m.d.comb += csr.sa_counter_response.valid.eq(pending)
        empty = []
        for i, o in (("plain_i", "cipher_o"), ("cipher_i", "plain_o"), ("host_i", "host_o")):
            m.submodules[f"{i}_fifo"] = q = fifo.SyncFIFOBuffered(width=beat_layout(WIDTH).size, depth=4)
            src, dst = getattr(self, i), getattr(self, o)
            m.d.comb += [q.w_data.eq(src.payload), q.w_en.eq(src.valid), src.ready.eq(q.w_rdy),
                         dst.payload.eq(q.r_data), dst.valid.eq(q.r_rdy), q.r_en.eq(dst.ready)]
            empty.append(q.level == 0)
        m.d.comb += self.idle.eq(Cat(*empty).all())
        return m


@functools.cache
def _built():
    return cocotb_build("verilator", StandIn, NAME, BUILD_ROOT / f"cocotb_{NAME}_verilator")


def run(testcase, tag, module="espline.sim.apptb.selftest", fails=False, **env):
    """Run one cocotb test; the failure messages of the results XML (empty if it passed)."""
    runner, build_dir = _built()
    tests, failed, messages, test_dir = cocotb_test("verilator", runner, build_dir, NAME, module, tag, env,
                                                    testcase=testcase)
    assert tests == 1 and failed == int(fails), f"cocotb: {failed} of {tests} failed (log in {test_dir})"
    return messages


@pytest.mark.slow
def test_driver_over_the_cocotb_transport():
    run("driver_over_cocotb", "driver")


@pytest.mark.slow
def test_sources_and_sinks_loop_back_bit_exact_under_stalls():
    run("loopback_frames", "loopback", APPTB_SEED=3, APPTB_FRAMES=150, APPTB_VALID_PROB=0.7, APPTB_READY_PROB=0.5)


@pytest.mark.slow
def test_sources_and_sinks_loop_back_bit_exact_under_long_stalls():
    run("loopback_frames", "loopback_burst", APPTB_SEED=5, APPTB_FRAMES=100, APPTB_VALID_PROB=0.6, APPTB_READY_PROB=0.5,
        APPTB_BURST=20)


def test_sources_and_sinks_at_full_rate():
    run("loopback_frames", "loopback_full", APPTB_SEED=4, APPTB_FRAMES=100, APPTB_VALID_PROB=1.0,
        APPTB_READY_PROB=1.0)


def test_bench_programs_runs_and_names_the_first_wrong_frame():
    """`appliance_random` end to end on the stand-in: the driver loads a configuration, traffic
    flows, and the loopback (not an appliance) is caught at its first frame with port, input
    frame index and first differing byte."""
    [message] = run("appliance_random", "bench_standin", module="espline.sim.apptb.bench", fails=True,
                    APPTB_FRAMES=60, APPTB_SEED=2)
    assert re.search(r"\b(plain|cipher|host)_o frame 0: (not (plain|cipher|host)_i frame \d+: byte \d+ is|extra frame)",
                     message), message


def test_an_unacknowledged_bus_cycle_fails_the_driver_call():
    run("bus_timeout", "bus_timeout")
