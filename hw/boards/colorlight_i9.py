"""Colorlight i9 v7.2 (LFE5U-45F-6BG381C on a DDR2-SODIMM module) on its extension board.

amaranth-boards has no file for it; the pins are taken from the board's published pinout:

* wuxx/Colorlight-FPGA-Projects, `colorlight_i9_v7.2.md`: 25 MHz oscillator on P3, LED D2 on
  L2, the two Broadcom B50612D RGMII PHYs (U29: GTXCLK U19, TXD U20 T19 T20 R20, TX_EN P19,
  RXC L19, RXD P20 N19 N20 M19, RX_DV M20; U30: GTXCLK G1, TXD G2 H1 J1 J3, TX_EN K1, RXC H2,
  RXD K2 L1 N1 P1, RX_DV P2), both on MDC N5, MDIO P5 and RESET P4.
* litex-hub/litex-boards, `litex_boards/platforms/colorlight_i5.py` (revision 7.2 of board i9):
  the same pins, the LED active low, the extension board's serial port (tx J17, rx H18, through
  its USB debugger) and button (K18), and the order of the ports: `eth_rgmii` 0 is U30 (GTXCLK
  G1), the PHY strapped to MDIO address 0, `eth_rgmii` 1 is U29.

The PHYs share their management pins, hence one `eth_mgmt` resource (`resources.py`). The
B50612D adds the RGMII transmit clock delay itself (as the litex-boards target configures it:
no delay in the FPGA); the receive clock arrives edge-aligned and is delayed in the FPGA.
"""

from amaranth.build import Attrs, Clock, Pins, Resource
from amaranth.vendor import LatticeECP5Platform
from amaranth_boards.resources import ButtonResources, LEDResources, UARTResource

from .resources import mgmt_resource, rgmii_resource

__all__ = ["ColorlightI9Platform"]

_LVCMOS33 = Attrs(IO_TYPE="LVCMOS33")


class ColorlightI9Platform(LatticeECP5Platform):
    device = "LFE5U-45F"
    package = "BG381"
    speed = "6"
    default_clk = "clk25"

    resources = [
        Resource("clk25", 0, Pins("P3", dir="i"), Clock(25e6), _LVCMOS33),
        *LEDResources(pins="L2", invert=True, attrs=Attrs(IO_TYPE="LVCMOS33", DRIVE="4")),
        *ButtonResources(pins="K18", invert=True, attrs=Attrs(IO_TYPE="LVCMOS33", PULLMODE="UP")),
        UARTResource(0, tx="J17", rx="H18", attrs=Attrs(IO_TYPE="LVCMOS33", PULLMODE="UP")),
        rgmii_resource(0, tx_clk="G1", tx_ctl="K1", tx_data="G2 H1 J1 J3",
                       rx_clk="H2", rx_ctl="P2", rx_data="K2 L1 N1 P1", attrs=_LVCMOS33),
        rgmii_resource(1, tx_clk="U19", tx_ctl="P19", tx_data="U20 T19 T20 R20",
                       rx_clk="L19", rx_ctl="M20", rx_data="P20 N19 N20 M19", attrs=_LVCMOS33),
        mgmt_resource(0, rst="P4", mdc="N5", mdio="P5", attrs=_LVCMOS33),
    ]
    connectors = []

