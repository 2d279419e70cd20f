"""The board top (espline.hw.top) prepared for each board without running the tools: every
resource it requests exists, every clock has its LPF frequency constraint, the UART and both
RGMII ports are placed; and the board registers read back the MAC counters. The board wiring is
under test here, so the appliance is the loopback (the appliance has its own tests), except in
one slow test."""

import re

import pytest
from amaranth.sim import Simulator

from espline.gateware.builds import GIGABIT
from espline.gateware.eth.port import COUNTERS
from espline.hw.board_registers import BOARD_BASE, BoardRegisters, counter_address
from espline.hw.boards import BOARDS
from espline.hw.loopback import Loopback
from espline.hw.top import BoardTop


def prepared(name, appliance=None):
    board = BOARDS[name]
    top = BoardTop(board, appliance=appliance or Loopback(GIGABIT.width, 9))
    return board.platform().prepare(top, name="espline")


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_top_prepares(name):
    board = BOARDS[name]
    plan = prepared(name)
    lpf = plan.files["espline.lpf"]
    # the PLL from the board's oscillator (dividers as Project Trellis' ecppll gives them: tests/hw/test_pll.py);
    # nextpnr derives the 125 MHz constraint of its output from the oscillator's
    clki_div = {25e6: 1, 100e6: 4}[board.platform().lookup(board.clock, 0).clock.frequency]
    assert f"parameter \\CLKI_DIV {clki_div}\n" in plan.files["espline.il"]
    for n in (0, 1):
        assert f'FREQUENCY PORT "eth_rgmii_{n}__rx_clk__io" 125000000.0 HZ;' in lpf
        for sub in ("tx_clk", "tx_ctl", "rx_ctl", "tx_data__io[3]", "rx_data__io[3]"):
            assert f'LOCATE COMP "eth_rgmii_{n}__{sub}' in lpf
    assert f'FREQUENCY PORT "{board.clock}_0__' in lpf  # __io, or __p for a differential pair
    assert 'LOCATE COMP "uart_0__rx__io"' in lpf and 'LOCATE COMP "uart_0__tx__io"' in lpf
    assert lpf.count('LOCATE COMP "eth_mgmt_') == 3 * board.mgmt
    assert lpf.count('LOCATE COMP "led_') == min(board.leds, 5)
    # received data and control (4 + 1 pins a port): through a DELAYG of 2 ns (80 taps of 25 ps) into
    # the IDDRX1F where the PHY leaves rx_clk undelayed (the Colorlight boards' B50612D), straight in on the Versa
    il = plan.files["espline.il"]
    delayed = name.startswith("colorlight")
    assert re.findall(r"cell \\DELAYG .*?parameter \\DEL_VALUE (\d+)\n", il, re.S) == ["80"] * (10 * delayed)
    iddr_inputs = re.findall(r"cell \\IDDRX1F .*?connect \\D (\S+)", il, re.S)
    assert len(iddr_inputs) == 10 and all(d.startswith("\\delayed") == delayed for d in iddr_inputs)


@pytest.mark.slow
def test_top_prepares_with_the_gigabit_build():
    """The real appliance inside (about 20 s of elaboration)."""
    assert "EHXPLLL" in prepared("colorlight-i9", GIGABIT.appliance()).files["espline.il"]


def test_board_registers_read_the_counters():
    """Pulses on every counter of both ports at once (and on HOST_DROPPED), then each word read;
    a write to a counter is acknowledged and changes nothing."""
    dut = BoardRegisters(2)
    values = {(port, name): (port + 1) * 20 + k for port in (0, 1) for k, name in enumerate(COUNTERS)}
    read = {}

    async def bench(ctx):
        for cycle in range(max(values.values())):
            for (port, name), value in values.items():
                ctx.set(getattr(dut.counts[port], name), cycle < value)
            ctx.set(dut.host_dropped, cycle < 3)  # three frames too long for the bridge
            await ctx.tick()
        ctx.set(dut.counts.as_value(), 0)
        ctx.set(dut.host_dropped, 0)
        addresses = {key: counter_address(*key) for key in values} | {"id": BOARD_BASE, "dropped": BOARD_BASE + 0x200,
                                                                     "hole": BOARD_BASE + 0x3FC}
        for write, (key, address) in [(True, ("written", counter_address(1, "tx_empty")))] + [
                (False, item) for item in addresses.items()]:
            ctx.set(dut.bus.adr, (address - BOARD_BASE) >> 2)
            ctx.set(dut.bus.we, write)
            ctx.set(dut.bus.dat_w, 0xFFFF)
            ctx.set(dut.bus.cyc, 1)
            ctx.set(dut.bus.stb, 1)
            ack = False
            while not ack:
                _, _, ack, data = await ctx.tick().sample(dut.bus.ack, dut.bus.dat_r)
            ctx.set(dut.bus.cyc, 0)
            ctx.set(dut.bus.stb, 0)
            await ctx.tick()
            read[key] = data

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert {key: read[key] for key in values} == values
    assert read["id"] == int.from_bytes(b"ESPB", "big") and read["dropped"] == 3 and read["hole"] == 0
    assert counter_address(1, "rx_frames") == BOARD_BASE + 0x140
