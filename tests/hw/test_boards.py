"""The board platforms (espline.hw.boards): every resource the board top requests exists, both
RGMII ports can be requested together, every receive clock is constrained, and the pins are the
published ones (the i9's restated here from wuxx/Colorlight-FPGA-Projects `colorlight_i9_v7.2.md`;
the others unchanged from amaranth-boards)."""

import pytest
from amaranth.build import ResourceError
from amaranth_boards.colorlight_5a75b_r7_0 import Colorlight_5A75B_R70Platform
from amaranth_boards.versa_ecp5 import VersaECP5Platform

from espline.hw.boards import BOARDS
from espline.hw.boards.resources import RX_CLOCK_HZ

RGMII = ("tx_clk", "tx_ctl", "tx_data", "rx_clk", "rx_ctl", "rx_data")


def pins(platform, name, number):
    """{subsignal: pin names} of a resource."""
    return {sub.name: tuple(sub.ios[0].names) for sub in platform.lookup(name, number).ios}


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_resource_the_top_requests(name):
    board = BOARDS[name]
    platform = board.platform()
    ports = [platform.request("eth_rgmii", n, dir="-") for n in (0, 1)]  # both at once
    for port in ports:
        for sub in RGMII:
            assert hasattr(port, sub)
    for n in range(board.mgmt):
        mgmt = platform.request("eth_mgmt", n, dir="-")
        assert hasattr(mgmt, "rst") and hasattr(mgmt, "mdc") and hasattr(mgmt, "mdio")
    with pytest.raises(ResourceError):
        platform.request("eth_mgmt", board.mgmt)
    platform.request("uart", 0, dir="-")
    assert platform.lookup(board.clock, 0).clock.frequency in (25e6, 100e6)
    platform.request(board.clock, 0, dir="-")
    for n in range(board.leds):
        platform.request("led", n, dir="-")
    clocks = {port.name: hz for port, hz in platform.iter_port_clock_constraints()}
    for n in (0, 1):
        assert clocks[f"eth_rgmii_{n}__rx_clk__io"] == RX_CLOCK_HZ


def test_upstream_5a75b_cannot_request_both_ports():
    """Why the subclass exists: amaranth-boards' two eth_rgmii share reset and MDIO pins."""
    platform = Colorlight_5A75B_R70Platform()
    platform.request("eth_rgmii", 0, dir="-")
    with pytest.raises(ResourceError):
        platform.request("eth_rgmii", 1, dir="-")


@pytest.mark.parametrize("name, upstream", [("colorlight-5a-75b", Colorlight_5A75B_R70Platform),
                                            ("versa", VersaECP5Platform)])
def test_split_keeps_the_upstream_pins(name, upstream):
    ours, theirs = BOARDS[name].platform(), upstream()
    for n in (0, 1):
        original = {sub.name.replace("ctrl", "ctl"): tuple(sub.ios[0].names)
                    for sub in theirs.lookup("eth_rgmii", n).ios}
        mgmt = pins(ours, "eth_mgmt", n if BOARDS[name].mgmt == 2 else 0)
        assert pins(ours, "eth_rgmii", n) | mgmt == original
    spelling = "tx_ctrl" if name == "versa" else "tx_ctl"  # upstream; ours is tx_ctl on both ports
    assert spelling in {sub.name for sub in theirs.lookup("eth_rgmii", 1).ios}


def test_i9_pins_are_the_published_ones():
    # colorlight_i9_v7.2.md: ETH-PHY1 (U30) and ETH-PHY0 (U29); eth_rgmii 0 is U30 (litex-boards' order)
    published = {
        0: {"tx_clk": "G1", "tx_data": "G2 H1 J1 J3", "tx_ctl": "K1", "rx_clk": "H2", "rx_data": "K2 L1 N1 P1",
            "rx_ctl": "P2"},
        1: {"tx_clk": "U19", "tx_data": "U20 T19 T20 R20", "tx_ctl": "P19", "rx_clk": "L19",
            "rx_data": "P20 N19 N20 M19", "rx_ctl": "M20"},
    }
    platform = BOARDS["colorlight-i9"].platform()
    for n, table in published.items():
        assert pins(platform, "eth_rgmii", n) == {k: tuple(v.split()) for k, v in table.items()}
    assert pins(platform, "eth_mgmt", 0) == {"rst": ("P4",), "mdc": ("N5",), "mdio": ("P5",)}
    assert platform.lookup("clk25", 0).ios[0].names == ["P3"] and platform.lookup("led", 0).ios[0].names == ["L2"]
    assert platform.device == "LFE5U-45F" and platform.package == "BG381" and platform.speed == "6"
