"""The boards espline builds a bitstream for (docs/boards.md), by the name `make bitstream BOARD=` takes.

Each `Board` names its platform (an amaranth `LatticeECP5Platform` whose Ethernet ports are
`eth_rgmii` 0 and 1 plus `eth_mgmt` resources, `resources.py`), the oscillator the PLL starts
from, its LEDs, how many PHY management resources it has and how openFPGALoader reaches it.
"""

from dataclasses import dataclass

from .colorlight_5a75b import Colorlight5A75BPlatform
from .colorlight_i9 import ColorlightI9Platform
from .versa import VersaPlatform

__all__ = ["Board", "BOARDS"]


@dataclass(frozen=True)
class Board:
    name: str
    platform: type
    clock: str  # the oscillator resource the PLL takes
    leds: int  # `led` resources 0..leds-1 (0: the board's LED pins carry the UART)
    mgmt: int  # `eth_mgmt` resources: 1 when both PHYs share reset and MDIO, else 2
    loader: tuple  # openFPGALoader arguments before the bitstream
    rx_delay: float = 0.0  # seconds the FPGA delays received RGMII data and control: for a PHY that does not
    # delay its receive clock (0: it does)

    @property
    def device(self) -> str:
        return self.platform.device


BOARDS = {board.name: board for board in (
    Board("colorlight-i9", ColorlightI9Platform, "clk25", leds=1, mgmt=1, loader=("-c", "cmsisdap"),
          rx_delay=2e-9),
    Board("versa", VersaPlatform, "clk100", leds=8, mgmt=2, loader=("-c", "ft2232")),
    Board("colorlight-5a-75b", Colorlight5A75BPlatform, "clk25", leds=0, mgmt=1, loader=("-c", "ft232"),
          rx_delay=2e-9),
)}
