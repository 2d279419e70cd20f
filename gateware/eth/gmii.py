"""The GMII-level interface between a MAC and its PHY interface (IEEE 802.3 clause 35.2.2):
the receive side (`rx_data`, `rx_dv`, `rx_er`) in the PHY's receive clock domain, the transmit
side (`tx_data`, `tx_en`, `tx_er`) in the MAC's transmit clock domain; seen from the MAC."""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

PREAMBLE, SFD = 0x55, 0xD5  # clause 3.2.1, 3.2.2: 7 octets 10101010 then 10101011, LSB first


def gmii_signature() -> wiring.Signature:
    return wiring.Signature({
        "rx_data": In(8), "rx_dv": In(1), "rx_er": In(1),
        "tx_data": Out(8), "tx_en": Out(1), "tx_er": Out(1),
    })
