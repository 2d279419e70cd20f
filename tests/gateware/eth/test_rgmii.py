"""RGMII at 1000 Mb/s: the MAC behind `RgmiiReceiver` and `RgmiiTransmitter`, their DDR pairs
driven and read by a model of `amaranth.lib.io.DDRBuffer` (index 0 the rising edge, index 1
the falling edge after it), the wire restated from RGMII v2.0 §3 (data bits 3:0 on
the rising edge, 7:4 on the falling edge; CTL: DV on the rising edge, DV XOR ER on the falling).
The DDR primitives (ECP5 IDDRX1F/ODDRX1F) cannot run in Amaranth's simulator: `RgmiiPhy` is
checked to elaborate on both Versa ports with one per pin; the pins' timing is not tested here."""

import random
import re

from amaranth.hdl import ClockDomain, DomainRenamer, Elaboratable, Module
from amaranth.lib.wiring import connect
from amaranth.sim import Simulator
from amaranth_boards.versa_ecp5 import VersaECP5Platform

from espline.gateware.eth.port import EthernetPort
from espline.gateware.eth.rgmii import RgmiiPhy
from espline.gateware.eth.rgmii_rx import RgmiiReceiver
from espline.gateware.eth.rgmii_tx import RgmiiTransmitter
from espline.sim.ethernet import GAP, burst, on_the_wire, tally, udp_frame
from espline.sim.packetbus import put_frame, take_frame


def rgmii_wire(cycles):
    """RGMII half-cycles (ctl, nibble), rising edge first, for GMII cycles (octet, dv, er)."""
    for octet, dv, er in cycles:
        yield dv, octet & 0xF
        yield dv ^ er, octet >> 4


def gmii_cycles(bursts, rng):
    """GMII receive cycles for `gmii_send`-style bursts; between bursts, `rx_ctl` low and
    random `rxd` (RGMII v2.0 §3 allows in-band status there), and one false carrier
    (RX_DV low, RX_ER high: CTL 0 then 1) that is no frame."""
    for octets, gap, error_at in bursts:
        yield from ((octet, 1, i == error_at) for i, octet in enumerate(octets))
        yield from ((rng.randrange(256), 0, i == 2) for i in range(gap))


def test_frames_through_rgmii_both_ways():
    rng = random.Random(5)
    frames = [udp_frame(size, rng) for size in (60, 61, 200, 333, 64, 1000)]
    bursts = [burst(frames[0]), burst(frames[1], error_at=17), burst(frames[2]),
              burst(frames[3], good_fcs=False), burst(frames[4]), burst(frames[5])]
    kept = [frames[0], frames[2], frames[4], frames[5]]
    wire = list(rgmii_wire(gmii_cycles(bursts, rng)))

    top = Module()
    top.domains += [ClockDomain("sync"), ClockDomain("rx")]
    top.submodules.port = port = EthernetPort(2, rx_domain="rx")
    top.submodules.rx = receiver = DomainRenamer("rx")(RgmiiReceiver())
    top.submodules.tx = transmitter = RgmiiTransmitter()
    top.d.comb += [port.gmii.rx_data.eq(receiver.rx_data), port.gmii.rx_dv.eq(receiver.rx_dv),
                   port.gmii.rx_er.eq(receiver.rx_er), transmitter.tx_data.eq(port.gmii.tx_data),
                   transmitter.tx_en.eq(port.gmii.tx_en), transmitter.tx_er.eq(port.gmii.tx_er)]
    got, sent_halves, counters = [], [], {}

    async def counter(ctx):
        await tally(ctx, port.counts, counters)

    async def pins_in(ctx):  # the DDR input model: both edges of a clock, out together
        for i in range(0, len(wire), 2):
            (ctl_rise, d_rise), (ctl_fall, d_fall) = wire[i], wire[i + 1]
            ctx.set(receiver.rxd, [d_rise, d_fall])
            ctx.set(receiver.rx_ctl, [ctl_rise, ctl_fall])
            await ctx.tick("rx")
        ctx.set(receiver.rx_ctl, [0, 0])

    async def pins_out(ctx):  # the DDR output model: index 0 on the rising edge, 1 on the falling
        async for _, _, txd, ctl in ctx.tick().sample(transmitter.txd, transmitter.tx_ctl):
            sent_halves.extend([(ctl[0], txd[0]), (ctl[1], txd[1])])

    async def mac(ctx):
        for frame in kept:
            await put_frame(ctx, port.tx, frame, 2, rng, 0.3)
        while len(got) < len(kept):
            got.append(await take_frame(ctx, port.rx, 2, rng, 0.3))
        await ctx.tick().repeat(1200)

    async def watchdog(ctx):
        await ctx.delay(8e-9 * (len(wire) + 3000))
        raise AssertionError(f"stuck: {len(got)} of {len(kept)} frames out")

    sim = Simulator(top)
    sim.add_clock(8e-9, domain="sync")
    sim.add_clock(8.05e-9, phase=2e-9, domain="rx")
    sim.add_testbench(pins_in)
    sim.add_testbench(mac)
    sim.add_testbench(pins_out, background=True)
    sim.add_testbench(counter, background=True)
    sim.add_testbench(watchdog, background=True)
    sim.run()

    assert got == kept
    assert {name: value for name, value in counters.items() if value} == \
        {"rx_frames": 4, "rx_error": 1, "rx_bad_fcs": 1, "tx_frames": 4}
    # the wire restated: a byte from each rising/falling pair, TX_EN on the rising edge,
    # TX_ER = the two CTL halves differ
    pairs = zip(sent_halves[::2], sent_halves[1::2], strict=True)
    octets = [(rise[1] | fall[1] << 4, rise[0], rise[0] ^ fall[0]) for rise, fall in pairs]
    assert not any(er for _, _, er in octets)
    text = "".join("1" if en else "0" for _, en, _ in octets)
    runs = [(m.start(), m.end()) for m in re.finditer("1+", text)]
    assert [bytes(o for o, _, _ in octets[a:b]) for a, b in runs] == [on_the_wire(f) for f in kept]
    assert min(b2[0] - b1[1] for b1, b2 in zip(runs, runs[1:], strict=False)) >= GAP


class TwoPorts(Elaboratable):
    def elaborate(self, platform):
        m = Module()
        m.domains += [ClockDomain("eth0"), ClockDomain("eth1")]
        for n in (0, 1):  # port 0 spells tx_ctl, port 1 tx_ctrl
            m.submodules[f"phy{n}"] = phy = RgmiiPhy(platform.request("eth_rgmii", n, dir="-"), rx_domain=f"eth{n}")
            m.submodules[f"mac{n}"] = mac = EthernetPort(4, rx_domain=f"eth{n}")
            connect(m, mac.gmii, phy.gmii)
        return m


def test_rgmii_phy_elaborates_on_the_versa_board():
    rtlil = VersaECP5Platform().build(TwoPorts(), do_build=False).files["top.il"]
    # per port: rx_data (4) and rx_ctl in; tx_data (4), tx_ctl and tx_clk out
    assert len(re.findall(r"cell \\IDDRX1F", rtlil)) == 2 * 5
    assert len(re.findall(r"cell \\ODDRX1F", rtlil)) == 2 * 6
