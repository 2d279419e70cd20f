"""Colorlight 5A-75B v7.0 (LFE5U-25F-6BG256C): amaranth-boards' `Colorlight_5A75B_R70Platform`
with its two RGMII ports requestable together.

In amaranth-boards both `eth_rgmii` resources contain the PHYs' shared reset (P5), MDC (P3) and
MDIO (T2), so requesting the second raises `ResourceError`. Here the management pins are one
resource, `eth_mgmt` 0, and each port keeps only its data pins (`resources.py`). The board's
serial port is its J19 header (the LED and button pins), so the LED is not available with it.
The Broadcom B50612D PHYs add the transmit clock delay (as litex-hub/litex-boards
`litex_boards/targets/colorlight_5a_75x.py` configures them); the receive clock is delayed in
the FPGA.
"""

from amaranth_boards.colorlight_5a75b_r7_0 import Colorlight_5A75B_R70Platform as _Board

from .resources import split_rgmii

__all__ = ["Colorlight5A75BPlatform"]


def _resources():
    shared = []
    for resource in _Board.resources:
        if resource.name != "eth_rgmii":
            yield resource
            continue
        data, mgmt = split_rgmii(resource)
        yield data
        if not shared:
            shared.append(mgmt)
            yield mgmt
        elif repr(mgmt.ios) != repr(shared[0].ios):
            raise ValueError(f"eth_rgmii {resource.number}: management pins differ from port 0's")

class Colorlight5A75BPlatform(_Board):
    resources = list(_resources())
