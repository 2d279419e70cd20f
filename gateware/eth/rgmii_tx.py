"""RGMII transmit encoding (RGMII v2.0 §3: signal definitions, the TX_ER/RX_ER coding): GMII's
byte per clock (IEEE 802.3 clause 35.2.2) as the double data rate pairs an
`amaranth.lib.io.DDRBuffer` sends, index 0 on the rising edge, index 1 on the falling edge:
bits 3:0 then 7:4 on `txd`, TX_EN then TX_EN XOR TX_ER on `tx_ctl`. Combinational: the DDR
output registers are the pipeline stage.
"""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out


class RgmiiTransmitter(wiring.Component):
    tx_data: In(8)
    tx_en: In(1)
    tx_er: In(1)
    txd: Out(data.ArrayLayout(4, 2))
    tx_ctl: Out(data.ArrayLayout(1, 2))

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [
            self.txd[0].eq(self.tx_data[:4]),
            self.txd[1].eq(self.tx_data[4:]),
            self.tx_ctl[0].eq(self.tx_en),
            self.tx_ctl[1].eq(self.tx_en ^ self.tx_er),
        ]
        return m
