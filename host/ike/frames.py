"""IKE datagrams in Ethernet frames, as the appliance's host port carries them: Ethernet II,
IPv4 (RFC 791, no options sent, no fragments taken), UDP (RFC 768) to port 500, or to port 4500
behind the 4-byte non-ESP marker (RFC 3948 §2.2). The daemon builds its own frames."""

import ipaddress
import struct
from dataclasses import dataclass

from .message import ParseError

ETHERTYPE_IPV4 = 0x0800
PROTO_UDP = 17
IKE_PORT, NAT_T_PORT = 500, 4500
NON_ESP_MARKER = bytes(4)
BROADCAST = b"\xff" * 6


@dataclass(frozen=True)
class Datagram:
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes  # the IKE message (the non-ESP marker removed)
    src_mac: bytes = BROADCAST


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def parse_frame(frame: bytes) -> Datagram:
    """The IKE datagram in a punted frame; ParseError for anything else or anything malformed."""
    if len(frame) < 14 + 20 + 8:
        raise ParseError(f"frame of {len(frame)} bytes is too short for Ethernet, IPv4 and UDP", None)
    if int.from_bytes(frame[12:14], "big") != ETHERTYPE_IPV4:
        raise ParseError(f"ethertype {frame[12:14].hex()} is not IPv4", None)
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[0] >> 4 != 4 or ihl < 20 or len(ip) < ihl + 8:
        raise ParseError("not a well-formed IPv4 header", None)
    total = int.from_bytes(ip[2:4], "big")
    if total < ihl + 8 or total > len(ip):
        raise ParseError(f"IPv4 total length {total} does not fit the frame's {len(ip)} bytes", None)
    if _checksum(ip[:ihl]) != 0:
        raise ParseError("IPv4 header checksum is wrong", None)
    if int.from_bytes(ip[6:8], "big") & 0x3FFF:
        raise ParseError("an IPv4 fragment (IKE fragments are not reassembled)", None)
    if ip[9] != PROTO_UDP:
        raise ParseError(f"IP protocol {ip[9]} is not UDP", None)
    ip = ip[:total]
    sport, dport, length = struct.unpack_from("!HHH", ip, ihl)
    if length != total - ihl:
        raise ParseError(f"UDP length {length} differs from the IP payload's {total - ihl} bytes", None)
    payload = ip[ihl + 8:]
    if NAT_T_PORT in (sport, dport) and IKE_PORT not in (sport, dport):
        if payload[:4] != NON_ESP_MARKER:
            raise ParseError("UDP/4500 without the non-ESP marker (ESP is the appliance's)", None)
        payload = payload[4:]
    elif IKE_PORT not in (sport, dport):
        raise ParseError(f"UDP {sport} -> {dport} is not IKE", None)
    return Datagram(str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20])), sport, dport,
                    bytes(payload), bytes(frame[6:12]))


def build_frame(d: Datagram, src_mac: bytes, dst_mac: bytes, ident: int = 0) -> bytes:
    """An Ethernet frame carrying `d` (the non-ESP marker prepended on port 4500), DF set."""
    payload = (NON_ESP_MARKER if NAT_T_PORT in (d.sport, d.dport) else b"") + d.payload
    src, dst = ipaddress.IPv4Address(d.src).packed, ipaddress.IPv4Address(d.dst).packed
    udp = struct.pack("!HHHH", d.sport, d.dport, 8 + len(payload), 0) + payload
    udp_sum = _checksum(src + dst + struct.pack("!BBH", 0, PROTO_UDP, len(udp)) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", udp_sum) + udp[8:]
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0x4000, 64, PROTO_UDP, 0, src, dst)
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return dst_mac + src_mac + struct.pack("!H", ETHERTYPE_IPV4) + header + udp


def mac_bytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))
