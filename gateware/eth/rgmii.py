"""RGMII PHY interface at 1000 Mb/s (RGMII v2.0; IEEE 802.3 clause 35 GMII at a quarter of the
pins): an RGMII resource's pins <-> the GMII-level interface of `gmii.gmii_signature`.

Receive: `rx_clk` from the PHY clocks the receive domain `rx_domain`, which the design above defines
(`m.domains += ClockDomain(rx_domain)`: the MAC, a sibling, uses it too) and this block drives: its
clock from the pin, its reset while `sync` is in reset, released synchronously (a reset-less `sync`,
reset by the device's global set/reset as on the boards (`espline.hw.pll`), holds the synchronizer
itself at its initial, asserted, state until then). `rxd`/`rx_ctl` are sampled on both of its edges
by `amaranth.lib.io.DDRBuffer`s and decoded by `RgmiiReceiver`. Transmit: `RgmiiTransmitter` in
`sync` (125 MHz) into DDR outputs; `tx_clk` is forwarded by a DDR output driving 1 then 0, from
`sync` by default, so it is edge-aligned with the data: the PHY must add the 2 ns clock delay (an
RGMII-ID PHY, or its TX delay enabled: RGMII v2.0's timing specification). Pass `tx_clk_domain`, a
copy of `sync` shifted by 90 degrees from the PLL, to forward a centre-aligned clock instead.
The receive side likewise expects the PHY to delay `rx_clk` (RX delay enabled), unless
`rx_input` makes the receive DDR inputs: called as `rx_input(port, i_domain=rx_domain)` for
`rx_data` and `rx_ctl`, it returns an `io.DDRBuffer` ("i") that may delay the pins itself (the
board's, e.g. `espline.hw.delayed_input`).

The pins are a resource requested with `dir="-"`, as amaranth-boards' `eth_rgmii` gives it
(`rx_ctl`/`tx_ctl` or, on some boards, `rx_ctrl`/`tx_ctrl`). 10 and 100 Mb/s are not supported.
"""

from amaranth.hdl import ClockSignal, DomainRenamer, Module, ResetSignal
from amaranth.lib import io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In

from .gmii import gmii_signature
from .rgmii_rx import RgmiiReceiver
from .rgmii_tx import RgmiiTransmitter


def _control_pin(pins, direction: str):
    for name in (f"{direction}_ctl", f"{direction}_ctrl"):
        if hasattr(pins, name):
            return getattr(pins, name)
    raise AttributeError(f"the RGMII pins have neither {direction}_ctl nor {direction}_ctrl")


class RgmiiPhy(wiring.Component):
    def __init__(self, pins, *, rx_domain: str, tx_clk_domain: str = "sync", rx_input=None):
        self.pins, self.rx_domain, self.tx_clk_domain = pins, rx_domain, tx_clk_domain
        self.rx_input = rx_input or (lambda port, *, i_domain: io.DDRBuffer("i", port, i_domain=i_domain))
        self.rx_ctl_pin, self.tx_ctl_pin = _control_pin(pins, "rx"), _control_pin(pins, "tx")
        super().__init__({"gmii": In(gmii_signature())})

    def elaborate(self, platform):
        m = Module()
        pins, rx = self.pins, self.rx_domain
        m.submodules.rx_clk = rx_clk = io.Buffer("i", pins.rx_clk)
        m.d.comb += ClockSignal(rx).eq(rx_clk.i)
        m.submodules.rx_reset = ResetSynchronizer(ResetSignal("sync", allow_reset_less=True), domain=rx)

        m.submodules.rxd = rxd = self.rx_input(pins.rx_data, i_domain=rx)
        m.submodules.rx_ctl = rx_ctl = self.rx_input(self.rx_ctl_pin, i_domain=rx)
        m.submodules.receiver = receiver = DomainRenamer(rx)(RgmiiReceiver())
        m.d.comb += [
            receiver.rxd.eq(rxd.i), receiver.rx_ctl.eq(rx_ctl.i),
            self.gmii.rx_data.eq(receiver.rx_data), self.gmii.rx_dv.eq(receiver.rx_dv),
            self.gmii.rx_er.eq(receiver.rx_er),
        ]

        m.submodules.transmitter = transmitter = RgmiiTransmitter()
        m.submodules.txd = txd = io.DDRBuffer("o", pins.tx_data, o_domain="sync")
        m.submodules.tx_ctl = tx_ctl = io.DDRBuffer("o", self.tx_ctl_pin, o_domain="sync")
        m.submodules.tx_clk = tx_clk = io.DDRBuffer("o", pins.tx_clk, o_domain=self.tx_clk_domain)
        m.d.comb += [
            transmitter.tx_data.eq(self.gmii.tx_data), transmitter.tx_en.eq(self.gmii.tx_en),
            transmitter.tx_er.eq(self.gmii.tx_er),
            txd.o.eq(transmitter.txd), tx_ctl.o.eq(transmitter.tx_ctl),
            tx_clk.o[0].eq(1), tx_clk.o[1].eq(0),
        ]
        return m
