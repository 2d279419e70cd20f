"""The board top for simulation (espline.hw.sim_board): the board's logic on its pins with the I/O
and PLL models, in Amaranth's simulator with the loopback in place of the appliance (the board
wiring and the models are under test; the appliance is tested on its own and, on these pins, in
the two-board simulation below). The wire is restated here from RGMII v2.0 (low nibble on the
rising edge, TX_EN / RX_DV then XOR ER on the falling) and IEEE 802.3 (preamble, SFD, FCS by
`zlib.crc32`); the UART bytes from the bridge's protocol (docs/boards.md), bit by bit."""

import random
import re
import shutil

import pytest
from amaranth.back import verilog
from amaranth.sim import Simulator

from espline.gateware.builds import GIGABIT
from espline.hw.board_registers import BOARD_BASE, counter_address
from espline.hw.boards import BOARDS
from espline.hw.loopback import Loopback
from espline.hw.sim_board import SimBoard
from espline.sim.boardsim import BOARD_MODULE, boards_top
from espline.sim.ethernet import fcs, on_the_wire, udp_frame

HALF = 4e-9  # 125 MHz: half a clock period
DIVISOR = 4


def test_frames_on_the_pins_and_registers_over_the_uart():
    """A good frame into the LAN pins leaves by the WAN pins (with preamble, SFD, padding and FCS);
    one with a bad FCS does not and is counted; the counters and the ID read over the UART pins."""
    rng = random.Random(1)
    dut = SimBoard(BOARDS["colorlight-i9"], appliance=Loopback(GIGABIT.width, 10), divisor=DIVISOR)
    good, bad = udp_frame(70, rng), udp_frame(90, rng)
    bursts = [on_the_wire(good), on_the_wire(bad)[:-4] + bytes(b ^ 1 for b in fcs(bad))]
    wire_out, uart_out = [], []

    async def pins(ctx):
        """Clocks (the receive clocks 2 ns after `clk`: the PHY's clock delay), the LAN's received
        nibbles, each set 1 ns after the edge before the one that samples it, and the WAN's sent
        ones, read at the receive clock's edges (2 ns after they change)."""
        idle = (0, 0, 0, 0)
        lan = iter([octet for burst in bursts for octet in [(b & 15, 1, b >> 4, 1) for b in burst] + [idle] * 12])
        current, sent, cycle = idle, None, 0
        ctx.set(dut.rst, 1)
        while True:
            ctx.set(dut.clk, 1)
            await ctx.delay(2e-9)
            ctx.set(dut.eth0_rx_clk, 1)
            ctx.set(dut.eth1_rx_clk, 1)
            low, en = ctx.get(dut.eth1_tx_data), ctx.get(dut.eth1_tx_ctl)
            await ctx.delay(1e-9)
            ctx.set(dut.eth0_rx_data, current[2])
            ctx.set(dut.eth0_rx_ctl, current[3])
            await ctx.delay(1e-9)
            ctx.set(dut.clk, 0)
            await ctx.delay(2e-9)
            ctx.set(dut.eth0_rx_clk, 0)
            ctx.set(dut.eth1_rx_clk, 0)
            high, en_er = ctx.get(dut.eth1_tx_data), ctx.get(dut.eth1_tx_ctl)
            assert en == en_er, "tx_er on the WAN"
            if en:
                sent = (sent or bytearray()) + bytes([low | high << 4])
            elif sent is not None:
                wire_out.append(bytes(sent))
                sent = None
            await ctx.delay(1e-9)
            cycle += 1
            if cycle == 10:
                ctx.set(dut.rst, 0)
            current = next(lan, idle) if cycle > 40 else idle
            ctx.set(dut.eth0_rx_data, current[0])
            ctx.set(dut.eth0_rx_ctl, current[1])
            await ctx.delay(1e-9)

    async def uart_send(ctx, data):
        for byte in data:
            for bit in (0, *(byte >> i & 1 for i in range(8)), 1):
                ctx.set(dut.uart_rx, bit)
                await ctx.delay(DIVISOR * 2 * HALF)

    async def uart_receive(ctx, n):
        got = bytearray()
        while len(got) < n:
            await ctx.changed(dut.uart_tx)
            if ctx.get(dut.uart_tx):
                continue
            await ctx.delay(1.5 * DIVISOR * 2 * HALF)
            byte = 0
            for i in range(8):
                byte |= ctx.get(dut.uart_tx) << i
                await ctx.delay(DIVISOR * 2 * HALF)
            assert ctx.get(dut.uart_tx) == 1, "no stop bit"
            got.append(byte)
        return bytes(got)

    async def read(ctx, address):
        await uart_send(ctx, b"R" + address.to_bytes(4, "big"))
        answer = await uart_receive(ctx, 5)
        assert answer[:1] == b"r", answer
        return int.from_bytes(answer[1:], "big")

    async def host(ctx):
        ctx.set(dut.uart_rx, 1)
        await ctx.delay(2000 * 2 * HALF)  # the frames are through by then
        uart_out.append(await read(ctx, BOARD_BASE))
        for name in ("rx_frames", "rx_bad_fcs"):
            uart_out.append(await read(ctx, counter_address(0, name)))
        uart_out.append(await read(ctx, counter_address(1, "tx_frames")))

    sim = Simulator(dut)
    sim.add_testbench(pins, background=True)
    sim.add_testbench(host)
    sim.run_until(6000 * 2 * HALF)
    assert wire_out == [on_the_wire(good)]
    assert uart_out == [int.from_bytes(b"ESPB", "big"), 1, 1, 1]


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_board_top_converts_for_simulation(name):
    """Every pin each board's top requests has its model (the board's LEDs, PHY management
    resources and oscillator), and no ECP5 primitive is left in the Verilog."""
    board = BOARDS[name]
    text = verilog.convert(SimBoard(board, appliance=Loopback(GIGABIT.width, 10)), name=BOARD_MODULE)
    header = re.search(rf"module {BOARD_MODULE}\((.*?)\);", text, re.S)[1]
    assert {p.strip() for p in header.split(",")} == {
        "clk", "rst", "uart_rx", "uart_tx", "phy_rst_n", "led",
        *(f"eth{n}_{pin}" for n in (0, 1) for pin in ("rx_clk", "rx_ctl", "rx_data", "tx_clk", "tx_ctl", "tx_data"))}
    assert not re.search(r"\b(EHXPLLL|DELAYG|IDDRX1F|ODDRX1F|TRELLIS_IO)\b", text)


def test_two_boards_wan_wiring():
    """In the two-board top, each WAN receives the other's WAN pins while `wan_link` is high, and
    the top-level inputs otherwise; LAN, UART and clocks stay each board's own."""
    board = f"module {BOARD_MODULE}(clk, rst, eth0_rx_data, eth1_rx_data, eth1_rx_ctl, eth1_tx_data, uart_tx);\n" \
            "  input clk;\n  input rst;\n  input [3:0] eth0_rx_data;\n  input [3:0] eth1_rx_data;\n" \
            "  input eth1_rx_ctl;\n  output [3:0] eth1_tx_data;\n  output uart_tx;\nendmodule\n"
    top = boards_top(board.replace("eth1_tx_data;\n", "eth1_tx_data;\n  output eth1_tx_ctl;\n"))
    assert "wire [3:0] a_eth1_rx_data_in = wan_link ? b_eth1_tx_data : a_eth1_rx_data;" in top
    assert "wire a_eth1_rx_ctl_in = wan_link ? b_eth1_tx_ctl : a_eth1_rx_ctl;" in top
    assert "wire [3:0] b_eth1_rx_data_in = wan_link ? a_eth1_tx_data : b_eth1_rx_data;" in top
    assert (f"{BOARD_MODULE} board_a(.clk(clk), .rst(rst), .eth0_rx_data(a_eth0_rx_data), "
            ".eth1_rx_data(a_eth1_rx_data_in), .eth1_rx_ctl(a_eth1_rx_ctl_in), .eth1_tx_data(a_eth1_tx_data), "
            ".eth1_tx_ctl(a_eth1_tx_ctl), .uart_tx(a_uart_tx));") in top


@pytest.mark.slow
def test_two_boards_against_the_model():
    """`make demo BOARD=colorlight-i9` in short: two gigabit board tops in Verilator (a build of
    about 5 minutes, then ~25 s), frames with FCS on the pins, scored against the model, bad-FCS
    frames dropped and counted (espline.sim.boardsim.tb.two_boards)."""
    from espline.sim.boardsim.run import simulate

    if shutil.which("g++") is None:
        pytest.skip("no C++ compiler for Verilator")
    r = simulate("colorlight-i9", "two_boards", {"BOARDSIM_PACKETS": "12", "BOARDSIM_BAD_FCS": "3"}, "pytest")
    assert r is not None, "the simulation ended without a result"
    assert r["errors"] == []
    assert r["delivered_ab"] == r["delivered_ba"] == 12 and r["punted"]
    for site in r["sites"].values():
        assert site["mac"][0]["rx_bad_fcs"] == site["bad_fcs_sent"] == 3
        assert site["mac"][0]["rx_frames"] == 12
