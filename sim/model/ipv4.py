"""IPv4 header parsing, checking and building (RFC 791, checksum RFC 1071)."""

import struct

HEADER = struct.Struct("!BBHHHBBH4s4s")
PROTO_UDP = 17
PROTO_ESP = 50
PROTO_IPIP = 4
DF = 0x4000
MF = 0x2000
OFFSET_MASK = 0x1FFF


def checksum(header: bytes) -> int:
    """One's-complement sum of 16-bit words (RFC 1071)."""
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def header_length(packet: bytes) -> int | None:
    """Header length of a well-formed IPv4 packet, or None if any RFC 791 check fails.

    Checks: version 4, IHL >= 5, total length within the buffer and covering the header,
    and a correct header checksum.
    """
    if len(packet) < 20 or packet[0] >> 4 != 4:
        return None
    ihl = (packet[0] & 0x0F) * 4
    total = (packet[2] << 8) | packet[3]
    if ihl < 20 or total < ihl or total > len(packet) or checksum(packet[:ihl]):
        return None
    return ihl


def total_length(packet: bytes) -> int:
    return (packet[2] << 8) | packet[3]


def is_fragment(packet: bytes) -> bool:
    return bool(((packet[6] << 8) | packet[7]) & (MF | OFFSET_MASK))


def with_checksum(header: bytearray) -> bytes:
    header[10:12] = b"\0\0"
    header[10:12] = checksum(header).to_bytes(2, "big")
    return bytes(header)


def build(*, tos: int, length: int, ident: int, flags_frag: int, ttl: int, proto: int,
          src: bytes, dst: bytes) -> bytes:
    """A 20-byte IPv4 header with its checksum."""
    return with_checksum(bytearray(HEADER.pack(0x45, tos, length, ident, flags_frag, ttl, proto, 0, src, dst)))


def rewrite(header: bytes, *, proto: int, length: int) -> bytes:
    """The same header (options kept) with a new protocol and total length (transport mode)."""
    h = bytearray(header)
    h[2:4] = length.to_bytes(2, "big")
    h[9] = proto
    return with_checksum(h)
