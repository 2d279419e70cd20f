"""The Ethernet resources every espline board platform offers, under one spelling.

`eth_rgmii` N: one RGMII PHY's data pins (IEEE 802.3 clause 35 GMII carried as RGMII v2.0:
`tx_clk`, `tx_ctl`, `tx_data[4]` out; `rx_clk`, `rx_ctl`, `rx_data[4]` in), with a 125 MHz
clock constraint on `rx_clk` so that the LPF constrains every receive clock. `eth_mgmt` N: the
PHY management pins (`rst` active low, `mdc`, `mdio`; IEEE 802.3 clause 22), a resource of their
own because on some boards both PHYs share them: amaranth-boards puts them in each `eth_rgmii`,
and requesting both ports then raises `ResourceError` (a pin requested twice).
"""

from amaranth.build import Attrs, Clock, Pins, PinsN, Resource, Subsignal

__all__ = ["RX_CLOCK_HZ", "rgmii_resource", "mgmt_resource", "split_rgmii"]

RX_CLOCK_HZ = 125e6  # 1000BASE-T: the PHY's receive clock
_DATA = ("tx_clk", "tx_ctl", "tx_data", "rx_clk", "rx_ctl", "rx_data")
_MGMT = ("rst", "mdc", "mdio")
_SPELLINGS = {"tx_ctrl": "tx_ctl", "rx_ctrl": "rx_ctl"}  # amaranth-boards' Versa port 1


def rgmii_resource(number: int, *, tx_clk: str, tx_ctl: str, tx_data: str, rx_clk: str, rx_ctl: str, rx_data: str,
                   attrs: Attrs) -> Resource:
    return Resource(
        "eth_rgmii", number,
        Subsignal("tx_clk", Pins(tx_clk, dir="o", assert_width=1)),
        Subsignal("tx_ctl", Pins(tx_ctl, dir="o", assert_width=1)),
        Subsignal("tx_data", Pins(tx_data, dir="o", assert_width=4)),
        Subsignal("rx_clk", Pins(rx_clk, dir="i", assert_width=1), Clock(RX_CLOCK_HZ)),
        Subsignal("rx_ctl", Pins(rx_ctl, dir="i", assert_width=1)),
        Subsignal("rx_data", Pins(rx_data, dir="i", assert_width=4)),
        attrs)


def mgmt_resource(number: int, *, rst: str, mdc: str, mdio: str, attrs: Attrs) -> Resource:
    return Resource(
        "eth_mgmt", number,
        Subsignal("rst", PinsN(rst, dir="o", assert_width=1)),
        Subsignal("mdc", Pins(mdc, dir="o", assert_width=1)),
        Subsignal("mdio", Pins(mdio, dir="io", assert_width=1)),
        attrs)


def _pins(subsignals: dict, name: str) -> str:
    (io,) = subsignals[name].ios
    return " ".join(io.names)


def split_rgmii(resource: Resource) -> tuple[Resource, Resource]:
    """An amaranth-boards `eth_rgmii` resource as (`eth_rgmii`, `eth_mgmt`) of the same number."""
    subsignals = {_SPELLINGS.get(s.name, s.name): s for s in resource.ios}
    if set(subsignals) != set(_DATA) | set(_MGMT):
        raise ValueError(f"{resource!r}: expected the subsignals {_DATA + _MGMT}")
    if not subsignals["rst"].ios[0].invert:
        raise ValueError(f"{resource!r}: expected an active-low reset")
    attrs = Attrs(**resource.attrs)
    data = rgmii_resource(resource.number, **{name: _pins(subsignals, name) for name in _DATA}, attrs=attrs)
    return data, mgmt_resource(resource.number, **{name: _pins(subsignals, name) for name in _MGMT}, attrs=attrs)
