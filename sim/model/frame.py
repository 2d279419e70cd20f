"""Ethernet II framing with at most one 802.1Q tag (IEEE 802.3 / 802.1Q).

Frames on espline's ports exclude the FCS and minimum-size padding (the MAC adds and strips
them); an IP packet's own total length says where it ends.
"""

from .accounting import Drop, Reason

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
VLAN_TAGS = (0x8100, 0x88A8)


def split(frame: bytes) -> tuple[int, int]:
    """(layer-2 header length, EtherType). Runts and stacked tags are malformed."""
    if len(frame) < 14:
        raise Drop(Reason.MALFORMED)
    ethertype = (frame[12] << 8) | frame[13]
    if ethertype not in VLAN_TAGS:
        return 14, ethertype
    if len(frame) < 18:
        raise Drop(Reason.MALFORMED)
    ethertype = (frame[16] << 8) | frame[17]
    if ethertype in VLAN_TAGS:
        raise Drop(Reason.MALFORMED)
    return 18, ethertype
