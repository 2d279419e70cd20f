"""Reading and writing pcap files (what Wireshark and tcpdump read), via scapy.

`read_frames` takes pcap and pcapng files of these link types (the tcpdump.org list,
https://www.tcpdump.org/linktypes.html), and gives every packet as the Ethernet frame the
appliance would see on its port:

* Ethernet (LINKTYPE_ETHERNET 1): as captured.
* Linux cooked captures - what `tcpdump -i any` writes - SLL (LINKTYPE_LINUX_SLL 113, a 16-byte
  header) and SLL2 (LINKTYPE_LINUX_SLL2 276, 20 bytes): the header's protocol becomes the
  EtherType (a VLAN tag libpcap put back after the header stays where it is, behind EtherType
  0x8100); protocol 4 (802.2 LLC, no EtherType) becomes an 802.3 frame whose length field is the
  payload's. The destination MAC is not in the capture; the source is the cooked header's
  link-layer address when that is 6 bytes (an Ethernet-like interface).
* Raw IP - a TUN interface, `tcpdump -i tun0` - (LINKTYPE_RAW 101; DLT_RAW 12 and 14 as some
  systems write it; LINKTYPE_IPV4 228, LINKTYPE_IPV6 229): EtherType IPv6 for a packet whose
  version nibble is 6 (or link type 229), else IPv4, so a packet that is neither is decided as
  the malformed IPv4 it is.

MACs that the capture does not have: destination `COOKED_DST` (02:00:00:00:00:02), source
`COOKED_SRC` (02:00:00:00:00:01), both locally administered. Any other link type, or a cooked
protocol that is no EtherType (CAN, PPP, ...), is a ValueError naming the file, the packet and
the link type or protocol.

`PcapWriter` and `write_frames` write Ethernet pcap files.
"""

from collections.abc import Iterator
from pathlib import Path

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapReader, RawPcapWriter

LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 113, 276
LINKTYPE_RAW, DLT_RAW_BSD, DLT_RAW_OPENBSD, LINKTYPE_IPV4, LINKTYPE_IPV6 = 101, 12, 14, 228, 229
ETH_IPV4, ETH_IPV6, SLL_LLC = 0x0800, 0x86DD, 0x0004
COOKED_DST, COOKED_SRC = bytes.fromhex("020000000002"), bytes.fromhex("020000000001")
ARPHRD_ETHER, ARPHRD_LOOPBACK = 1, 772  # Linux if_arp.h: interfaces with 6-byte Ethernet addresses
SUPPORTED = "Ethernet (1), Linux cooked SLL (113) and SLL2 (276), raw IP (101, 12, 14, 228, 229)"


def _ethernet(protocol: int, payload: bytes, src: bytes = COOKED_SRC) -> bytes:
    return COOKED_DST + src + protocol.to_bytes(2, "big") + payload


def _raw_ip(packet: bytes, linktype: int) -> bytes:
    version6 = linktype == LINKTYPE_IPV6 or (linktype != LINKTYPE_IPV4 and len(packet) > 0 and packet[0] >> 4 == 6)
    return _ethernet(ETH_IPV6 if version6 else ETH_IPV4, packet)


def _cooked(protocol: int, hatype: int, address: bytes, payload: bytes) -> bytes:
    src = address if len(address) == 6 and hatype in (ARPHRD_ETHER, ARPHRD_LOOPBACK) else COOKED_SRC
    if protocol == SLL_LLC:
        if len(payload) >= 0x0600:
            raise ValueError(f"an 802.2 LLC payload of {len(payload)} bytes does not fit an 802.3 frame")
        return _ethernet(len(payload), payload, src)
    if protocol < 0x0600:
        raise ValueError(f"cooked protocol {protocol:#06x} is not an EtherType (not an Ethernet frame)")
    return _ethernet(protocol, payload, src)


def _sll(packet: bytes) -> bytes:
    """SLL: packet type (2), ARPHRD type (2), address length (2), address (8), protocol (2)."""
    if len(packet) < 16:
        raise ValueError(f"{len(packet)} bytes is shorter than the 16-byte SLL header")
    hatype, alen = int.from_bytes(packet[2:4], "big"), int.from_bytes(packet[4:6], "big")
    return _cooked(int.from_bytes(packet[14:16], "big"), hatype, packet[6:6 + min(alen, 8)], packet[16:])


def _sll2(packet: bytes) -> bytes:
    """SLL2: protocol (2), reserved (2), interface index (4), ARPHRD type (2), packet type (1),
    address length (1), address (8)."""
    if len(packet) < 20:
        raise ValueError(f"{len(packet)} bytes is shorter than the 20-byte SLL2 header")
    hatype, alen = int.from_bytes(packet[8:10], "big"), packet[11]
    return _cooked(int.from_bytes(packet[0:2], "big"), hatype, packet[12:12 + min(alen, 8)], packet[20:])


RAW_IP = (LINKTYPE_RAW, DLT_RAW_BSD, DLT_RAW_OPENBSD, LINKTYPE_IPV4, LINKTYPE_IPV6)


def check_linktype(linktype: int) -> None:
    if linktype not in (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, *RAW_IP):
        raise ValueError(f"link type {linktype} is not supported (only {SUPPORTED})")


def as_ethernet(packet: bytes, linktype: int) -> bytes:
    """A captured packet of `linktype` as the Ethernet frame the appliance sees (module docstring)."""
    check_linktype(linktype)
    if linktype == LINKTYPE_LINUX_SLL:
        return _sll(packet)
    if linktype == LINKTYPE_LINUX_SLL2:
        return _sll2(packet)
    if linktype in RAW_IP:
        return _raw_ip(packet, linktype)
    return packet


def read_frames(path: str | Path) -> Iterator[tuple[bytes, float]]:
    """(Ethernet frame, timestamp) for each packet of a pcap or pcapng file (module docstring)."""
    try:
        reader = RawPcapReader(str(path))
    except (Scapy_Exception, OSError) as e:
        raise ValueError(f"{path}: not a readable pcap file ({e})") from None
    with reader:
        if hasattr(reader, "linktype"):  # pcap: one link type for the file, checked even with no packet
            try:
                check_linktype(reader.linktype)
            except ValueError as e:
                raise ValueError(f"{path}: {e}") from None
        for number, (packet, meta) in enumerate(reader, 1):
            if hasattr(meta, "sec"):
                linktype, timestamp = reader.linktype, meta.sec + meta.usec / 1e6
            else:  # pcapng: each interface has its link type
                linktype, timestamp = meta.linktype, ((meta.tshigh << 32) | meta.tslow) / meta.tsresol
            try:
                frame = as_ethernet(packet, linktype)
            except ValueError as e:
                raise ValueError(f"{path}: packet {number}: {e}") from None
            yield frame, timestamp


class PcapWriter:
    """An Ethernet pcap file being written; a context manager."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = RawPcapWriter(str(path), linktype=LINKTYPE_ETHERNET, sync=False)
        self._writer.write_header(None)  # also for a capture with no packets

    def write(self, frame: bytes, timestamp: float = 0.0) -> None:
        sec = int(timestamp)
        self._writer.write_packet(frame, sec=sec, usec=int(round((timestamp - sec) * 1e6)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._writer.close()


def write_frames(path: str | Path, frames) -> None:
    with PcapWriter(path) as w:
        for i, frame in enumerate(frames):
            w.write(frame, i * 1e-3)
