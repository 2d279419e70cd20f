"""RGMII receive decoding (RGMII v2.0 §3: signal definitions, the TX_ER/RX_ER coding): a byte
per clock from the double data rate samples, as GMII (IEEE 802.3 clause 35.2.2) in the receive
clock domain (`sync`, renamed).

`rxd` carries bits 3:0 on the rising edge and bits 7:4 on the falling edge; `rx_ctl` carries
RX_DV on the rising edge and RX_DV XOR RX_ER on the falling edge. The inputs are as an
`amaranth.lib.io.DDRBuffer` gives them: index 0 the rising-edge sample, index 1 the sample of
the falling edge that follows it. Outputs are registered.
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out


class RgmiiReceiver(wiring.Component):
    rxd: In(data.ArrayLayout(4, 2))
    rx_ctl: In(data.ArrayLayout(1, 2))
    rx_data: Out(8)
    rx_dv: Out(1)
    rx_er: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [
            self.rx_data.eq(Cat(self.rxd[0], self.rxd[1])),
            self.rx_dv.eq(self.rx_ctl[0]),
            self.rx_er.eq(self.rx_ctl[0] ^ self.rx_ctl[1]),
        ]
        return m
