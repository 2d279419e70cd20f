"""ESP encapsulation and decapsulation (RFC 4303) with AES-GCM (RFC 4106), tunnel and
transport mode, and ESP-in-UDP (RFC 3948).

Packet layout (RFC 4303 §2): SPI ‖ seq ‖ IV(8) ‖ E(payload ‖ pad ‖ pad-length ‖ next-header) ‖ ICV.
The explicit IV is the 64-bit sequence number: unique per key (RFC 4106 §3.1).
"""

import struct

from . import ipv4
from .accounting import Drop, Reason
from .sa import Event, SecurityAssociation

NEXT_HEADER_NONE = 59  # RFC 4303 §2.6 dummy packet
PAD_BYTES = bytes(range(1, 4))
ESP_OVERHEAD = 8 + 8  # header + IV


def _aad(sa: SecurityAssociation, seq: int) -> bytes:
    """RFC 4106 §5: SPI ‖ seq (32), or SPI ‖ seq-high ‖ seq-low with ESN."""
    if sa.esn:
        return struct.pack("!IQ", sa.spi, seq)
    return struct.pack("!II", sa.spi, seq)


def encapsulate(sa: SecurityAssociation, packet: bytes, ihl: int, events: list) -> bytes:
    """The protected packet for one checked IPv4 packet (RFC 4303 §3.1, §3.3)."""
    if sa.dead:
        raise Drop(Reason.SA_EXPIRED)
    seq = sa.seq = sa.seq + 1
    if seq == sa.seq_max:  # the last number this SA may send: it never wraps (§3.3.3)
        sa.dead = True
        events.append((Event.SEQ_EXHAUSTED, sa))
    total = ipv4.total_length(packet)
    if sa.mode == "tunnel":
        payload, next_header = packet[:total], ipv4.PROTO_IPIP
    else:
        payload, next_header = packet[ihl:total], packet[9]
    pad = (-(len(payload) + 2)) & 3
    trailer = PAD_BYTES[:pad] + bytes((pad, next_header))
    iv = seq.to_bytes(8, "big")
    esp = struct.pack("!II", sa.spi, seq & 0xFFFFFFFF) + iv + sa.aead.seal(iv, _aad(sa, seq), payload + trailer)
    events.extend((e, sa) for e in sa.account(len(payload)))

    proto = ipv4.PROTO_ESP
    if sa.encap is not None:
        esp = struct.pack("!HHHH", sa.encap.sport, sa.encap.dport, 8 + len(esp), 0) + esp
        proto = ipv4.PROTO_UDP
    if sa.mode == "transport":
        return ipv4.rewrite(packet[:ihl], proto=proto, length=ihl + len(esp)) + esp
    flags = (packet[6] << 8) & ipv4.DF if sa.df == "copy" else ipv4.DF if sa.df == "set" else 0
    outer = ipv4.build(tos=packet[1], length=20 + len(esp), ident=seq & 0xFFFF, flags_frag=flags,
                       ttl=sa.ttl, proto=proto, src=sa.src_bytes, dst=sa.dst_bytes)
    return outer + esp


def esp_spi(esp: bytes) -> int:
    return int.from_bytes(esp[:4], "big")


def decapsulate(sa: SecurityAssociation, packet: bytes, ihl: int, esp_at: int, events: list) -> bytes:
    """The restored IPv4 packet for one received ESP packet (RFC 4303 §3.4).

    Order: replay check, ICV verification, then (only if it verified) the window update,
    re-checked at that point; then the trailer checks.
    """
    if sa.dead:
        raise Drop(Reason.SA_EXPIRED)
    esp = packet[esp_at : ipv4.total_length(packet)]
    sealed_len = len(esp) - ESP_OVERHEAD
    if sealed_len < 2 + sa.aead.icv_len or (sealed_len - sa.aead.icv_len) & 3:
        raise Drop(Reason.MALFORMED)
    seq = sa.window.infer(int.from_bytes(esp[4:8], "big"))
    if not sa.window.check(seq):
        sa.counters.replay += 1
        raise Drop(Reason.REPLAY)
    plain = sa.aead.open(esp[8:16], _aad(sa, seq), esp[16:])
    if plain is None:
        sa.counters.auth_fail += 1
        raise Drop(Reason.AUTH_FAIL)
    if not sa.window.check(seq):  # a copy that raced this one through the pipeline
        sa.counters.replay += 1
        raise Drop(Reason.REPLAY)
    sa.window.update(seq)

    pad, next_header = plain[-2], plain[-1]
    if pad + 2 > len(plain) or plain[-2 - pad : -2] != bytes(range(1, pad + 1)):
        raise Drop(Reason.BAD_PAD)
    if next_header == NEXT_HEADER_NONE:
        raise Drop(Reason.DUMMY)
    payload = plain[: -2 - pad]
    if sa.mode == "tunnel":
        if next_header != ipv4.PROTO_IPIP:
            raise Drop(Reason.MALFORMED)
        inner_ihl = ipv4.header_length(payload)
        if inner_ihl is None:
            raise Drop(Reason.MALFORMED)
        inner = payload[: ipv4.total_length(payload)]  # anything after is TFC padding (§2.4)
    else:
        inner = ipv4.rewrite(packet[:ihl], proto=next_header, length=ihl + len(payload)) + payload
    events.extend((e, sa) for e in sa.account(len(payload)))
    return inner
