"""Lattice ECP5 Versa (LFE5UM-45F-8BG381C): amaranth-boards' `VersaECP5Platform` with its two
RGMII ports under the one spelling of `resources.py`.

amaranth-boards spells port 1's control pins `tx_ctrl`/`rx_ctrl` (port 0: `tx_ctl`/`rx_ctl`) and
keeps each PHY's management pins (not shared on this board) inside `eth_rgmii`; here each port is
`eth_rgmii` N plus `eth_mgmt` N, pins unchanged. The Marvell 88E1512 PHYs add both RGMII clock
delays themselves (the litex-boards target for this board, litex-hub/litex-boards
`litex_boards/targets/lattice_versa_ecp5.py`, sets no delay in the FPGA either way).
"""

from amaranth_boards.versa_ecp5 import VersaECP5Platform as _Versa

from .resources import split_rgmii

__all__ = ["VersaPlatform"]


def _resources():
    for resource in _Versa.resources:
        if resource.name == "eth_rgmii":
            yield from split_rgmii(resource)
        else:
            yield resource


class VersaPlatform(_Versa):
    resources = list(_resources())
