"""Ethernet as IEEE 802.3 puts it on the wire, restated plainly for the MAC's tests and benches:
the FCS (clause 3.2.9: CRC-32, `zlib.crc32`, least significant byte first), padding to 60 bytes
(clause 3.2.8), preamble and SFD (clause 3.2.1, 3.2.2); and GMII drivers and monitors for
Amaranth's simulator (clause 35.2.2: one byte per clock, `dv`/`en` high for the frame); the
MAC behind RGMII with models of the DDR registers, for cocotb (`RgmiiPort`)."""

import random
import zlib

from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, Module, Mux, ResetSignal, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out, connect
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

from ..gateware.eth.port import COUNTERS, EthernetPort, count_layout
from ..gateware.eth.rgmii_rx import RgmiiReceiver
from ..gateware.eth.rgmii_tx import RgmiiTransmitter
from ..gateware.packet import packet_signature

PREAMBLE_SFD = bytes([0x55] * 7 + [0xD5])
MIN_DATA, MIN_FRAME, GAP = 60, 64, 12


def fcs(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "little")


def padded(frame: bytes) -> bytes:
    return frame + bytes(max(0, MIN_DATA - len(frame)))


def on_the_wire(frame: bytes) -> bytes:
    """What a MAC sends for `frame` (without FCS): preamble, SFD, padded data, FCS."""
    data = padded(frame)
    return PREAMBLE_SFD + data + fcs(data)


def udp_frame(size: int, rng: random.Random) -> bytes:
    """A scapy Ethernet/IPv4/UDP frame of `size` bytes (at least 42) without FCS, random payload."""
    frame = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.0.0.1", dst="10.0.0.2") / UDP()
    return bytes(frame / rng.randbytes(size - len(frame)))


def burst(frame: bytes, gap: int = GAP, error_at=None, *, good_fcs: bool = True):
    """A receive burst carrying `frame` (its FCS appended here, inverted unless `good_fcs`), as
    `gmii_send` takes it."""
    check = fcs(frame) if good_fcs else bytes(b ^ 0xFF for b in fcs(frame))
    return PREAMBLE_SFD + frame + check, gap, error_at


def rx_counter(octets: bytes, error_at, max_frame: int) -> str:
    """The receive counter a burst belongs in (docs/ethernet.md): rx_error (rx_er, or no
    preamble/SFD), rx_runt (< 64 bytes with FCS), rx_oversize (> max_frame), rx_bad_fcs,
    or rx_frames (good; or rx_overflow, which depends on the FIFO's state)."""
    start = len(octets) - len(octets.lstrip(b"\x55"))
    if octets[start : start + 1] != b"\xd5" or error_at is not None:
        return "rx_error"
    frame = octets[start + 1 :]
    if len(frame) < MIN_FRAME:
        return "rx_runt"
    if len(frame) > max_frame:
        return "rx_oversize"
    return "rx_frames" if fcs(frame[:-4]) == frame[-4:] else "rx_bad_fcs"


async def gmii_send(ctx, gmii, bursts, domain: str = "sync"):
    """Drive GMII receive bursts: each `(octets, gap, error_at)`, `rx_dv` high for `octets`,
    `rx_er` with the octet at index `error_at` (or never: None), then `gap` idle clocks."""
    for octets, gap, error_at in bursts:
        for i, octet in enumerate(octets):
            ctx.set(gmii.rx_data, octet)
            ctx.set(gmii.rx_dv, 1)
            ctx.set(gmii.rx_er, i == error_at)
            await ctx.tick(domain)
        ctx.set(gmii.rx_dv, 0)
        ctx.set(gmii.rx_er, 0)
        await ctx.tick(domain).repeat(gap)


async def gmii_record(ctx, gmii, bursts: list, gaps: list, domain: str = "sync"):
    """Record GMII transmit bursts (the octets while `tx_en` is high) into `bursts`, and the
    idle clocks between two bursts into `gaps`; run it in the background."""
    octets, idle = None, None
    async for _, _, en, octet, er in ctx.tick(domain).sample(gmii.tx_en, gmii.tx_data, gmii.tx_er):
        assert not er, "tx_er raised"
        if en:
            if octets is None:
                octets = bytearray()
                if idle is not None:
                    gaps.append(idle)
            octets.append(octet)
        elif octets is not None:
            bursts.append(bytes(octets))
            octets, idle = None, 1
        elif idle is not None:
            idle += 1


async def tally(ctx, counts, counted: dict):
    """Add up the pulses on an `EthernetPort`'s `counts` (one per frame counted), by counter, into
    `counted` (for a background testbench)."""
    async for _, _, pulses in ctx.tick().sample(counts):
        for name in COUNTERS:
            counted[name] = counted.get(name, 0) + getattr(pulses, name)


class RgmiiPort(wiring.Component):
    """For cocotb: an `EthernetPort` behind the RGMII coding (`RgmiiReceiver`, `RgmiiTransmitter`)
    with behavioural models of the DDR I/O registers in place of the FPGA's primitives, its RGMII
    pins as ports. `rx_clk` (with `rx_rst`) is the receive clock, which a PHY with its receive
    clock delay edges in the middle of each half-byte; the transmit pins change at the edges of
    `clk` (sync), bits 3:0 while it is high. `phy_tx_clk` is not used inside: the clock the
    PHY model samples the transmit pins on (a copy of `clk` a quarter period late, as a PHY's
    transmit clock delay puts it)."""

    def __init__(self, width: int):
        self.width = width
        super().__init__({
            "rx": Out(packet_signature(width)), "tx": In(packet_signature(width)), "counts": Out(count_layout),
            "rgmii_rxd": In(4), "rgmii_rx_ctl": In(1), "rgmii_txd": Out(4), "rgmii_tx_ctl": Out(1),
            "rx_clk": In(1), "rx_rst": In(1), "phy_tx_clk": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.domains += [ClockDomain("rx"), ClockDomain("rx_fall", clk_edge="neg", reset_less=True)]
        m.d.comb += [ClockSignal("rx").eq(self.rx_clk), ResetSignal("rx").eq(self.rx_rst),
                     ClockSignal("rx_fall").eq(self.rx_clk)]
        m.submodules.port = port = EthernetPort(self.width, rx_domain="rx")
        m.submodules.decode = decode = DomainRenamer("rx")(RgmiiReceiver())
        m.submodules.encode = encode = RgmiiTransmitter()
        # input DDR registers: the rising edge's sample, and the falling edge's after it
        m.d.rx += [decode.rxd[0].eq(self.rgmii_rxd), decode.rx_ctl[0].eq(self.rgmii_rx_ctl)]
        m.d.rx_fall += [decode.rxd[1].eq(self.rgmii_rxd), decode.rx_ctl[1].eq(self.rgmii_rx_ctl)]
        # output DDR registers: index 0 while the clock is high, index 1 while it is low
        txd, tx_ctl = Signal(data.ArrayLayout(4, 2)), Signal(data.ArrayLayout(1, 2))
        m.d.sync += [txd.eq(encode.txd), tx_ctl.eq(encode.tx_ctl)]
        high = ClockSignal("sync")
        m.d.comb += [
            self.rgmii_txd.eq(Mux(high, txd[0], txd[1])), self.rgmii_tx_ctl.eq(Mux(high, tx_ctl[0], tx_ctl[1])),
            port.gmii.rx_data.eq(decode.rx_data), port.gmii.rx_dv.eq(decode.rx_dv), port.gmii.rx_er.eq(decode.rx_er),
            encode.tx_data.eq(port.gmii.tx_data), encode.tx_en.eq(port.gmii.tx_en), encode.tx_er.eq(port.gmii.tx_er),
            self.counts.eq(port.counts),
        ]
        connect(m, wiring.flipped(self.tx), port.tx)
        connect(m, port.rx, wiring.flipped(self.rx))
        return m
