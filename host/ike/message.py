"""IKEv2 messages (RFC 7296 §3): the header and the payloads this daemon speaks, encoded and
decoded by hand with every length checked.

`decode` takes a datagram's bytes and returns a `Message` whose payloads are objects; an SK
payload (§3.14) is kept as its raw body (`Message.sk`) until `espline.host.ike.crypto`
opens it, and `decode_chain` then parses the payloads inside. Anything malformed, truncated or
oversized raises `ParseError`, whose message says what and where; the daemon logs it and drops
the datagram (or answers with the error's notify where §2.21 asks for one).
"""

import struct
from dataclasses import dataclass, field

HEADER = struct.Struct("!8s8sBBBBII")  # §3.1
HEADER_LEN = HEADER.size  # 28
MAX_MESSAGE = 65535  # a UDP datagram's payload bound; the daemon takes nothing longer
VERSION = 0x20  # major 2, minor 0

# Exchange types (§3.1)
IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL = 34, 35, 36, 37
EXCHANGES = {IKE_SA_INIT: "IKE_SA_INIT", IKE_AUTH: "IKE_AUTH", CREATE_CHILD_SA: "CREATE_CHILD_SA",
             INFORMATIONAL: "INFORMATIONAL"}
# Header flags (§3.1)
FLAG_INITIATOR, FLAG_VERSION, FLAG_RESPONSE = 0x08, 0x10, 0x20

# Payload types (§3.2)
NO_NEXT = 0
SA, KE, IDI, IDR, CERT, CERTREQ, AUTH, NONCE, NOTIFY, DELETE, VENDOR, TSI, TSR, SK, CP, EAP = (
    33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48)

# Protocol IDs (§3.3.1)
PROTO_IKE, PROTO_AH, PROTO_ESP = 1, 2, 3
# Transform types (§3.3.2)
ENCR, PRF, INTEG, DH, ESN = 1, 2, 3, 4, 5
ATTR_KEY_LENGTH = 14  # §3.3.5, in TV format (AF bit set)
# Identification types (§3.5)
ID_IPV4_ADDR, ID_FQDN, ID_RFC822_ADDR, ID_KEY_ID = 1, 2, 3, 11
# Authentication methods (§3.8)
AUTH_PSK = 2
# Traffic selector types (§3.13.1)
TS_IPV4_ADDR_RANGE = 7

# Notify message types (§3.10.1)
UNSUPPORTED_CRITICAL_PAYLOAD, INVALID_SPI, INVALID_MAJOR_VERSION, INVALID_SYNTAX = 1, 4, 5, 7
INVALID_MESSAGE_ID, NO_PROPOSAL_CHOSEN, INVALID_KE_PAYLOAD, AUTHENTICATION_FAILED = 9, 14, 17, 24
SINGLE_PAIR_REQUIRED, NO_ADDITIONAL_SAS, TS_UNACCEPTABLE, TEMPORARY_FAILURE = 34, 35, 38, 43
CHILD_SA_NOT_FOUND = 44
INITIAL_CONTACT, NAT_DETECTION_SOURCE_IP, NAT_DETECTION_DESTINATION_IP, COOKIE = 16384, 16388, 16389, 16390
USE_TRANSPORT_MODE, REKEY_SA, ESP_TFC_PADDING_NOT_SUPPORTED, NON_FIRST_FRAGMENTS_ALSO = 16391, 16393, 16394, 16395
ERROR_TYPES_END = 16383  # notify types below 16384 are errors (§3.10.1)


class ParseError(ValueError):
    """A message refused: what is wrong and where. `notify` is the error notify §2.21 answers a
    request with (INVALID_SYNTAX, UNSUPPORTED_CRITICAL_PAYLOAD, ...), None where none is due."""

    def __init__(self, message: str, notify: int | None = INVALID_SYNTAX, data: bytes = b""):
        super().__init__(message)
        self.notify, self.data = notify, data


# -- payloads ------------------------------------------------------------------------------


@dataclass
class Transform:  # §3.3.2
    type: int
    id: int
    key_length: int | None = None  # bits (the Key Length attribute, §3.3.5)


@dataclass
class Proposal:  # §3.3.1
    number: int
    protocol: int
    spi: bytes
    transforms: list[Transform]

    def of_type(self, kind: int) -> list[Transform]:
        return [t for t in self.transforms if t.type == kind]


@dataclass
class SaPayload:  # §3.3
    proposals: list[Proposal]
    TYPE = SA


@dataclass
class KePayload:  # §3.4
    group: int
    data: bytes
    TYPE = KE


@dataclass
class Identification:  # §3.5; IDi or IDr
    initiator: bool
    id_type: int
    data: bytes

    @property
    def TYPE(self) -> int:  # noqa: N802 (one attribute name for every payload)
        return IDI if self.initiator else IDR

    @property
    def body(self) -> bytes:
        """The payload without its generic header (RestOfIDPayload, §2.15)."""
        return bytes([self.id_type, 0, 0, 0]) + self.data


@dataclass
class AuthPayload:  # §3.8
    method: int
    data: bytes
    TYPE = AUTH


@dataclass
class NoncePayload:  # §3.9
    data: bytes
    TYPE = NONCE


@dataclass
class Notify:  # §3.10
    type: int
    protocol: int = 0
    spi: bytes = b""
    data: bytes = b""
    TYPE = NOTIFY

    @property
    def is_error(self) -> bool:
        return self.type <= ERROR_TYPES_END


@dataclass
class DeletePayload:  # §3.11
    protocol: int
    spis: list[bytes]
    TYPE = DELETE


@dataclass
class VendorId:  # §3.12: ignored, but kept for the log
    data: bytes
    TYPE = VENDOR


@dataclass(frozen=True)
class TrafficSelector:  # §3.13.1, IPv4 address ranges
    protocol: int  # 0: any
    start_port: int
    end_port: int
    start_addr: int  # 32-bit
    end_addr: int


@dataclass
class TrafficSelectors:  # §3.13; TSi or TSr
    initiator: bool
    selectors: list[TrafficSelector]

    @property
    def TYPE(self) -> int:  # noqa: N802
        return TSI if self.initiator else TSR


@dataclass
class Unknown:  # any payload this daemon does not parse (CERTREQ, CP, ...), kept raw
    type: int
    critical: bool
    body: bytes

    @property
    def TYPE(self) -> int:  # noqa: N802
        return self.type


@dataclass
class Message:
    spi_i: bytes
    spi_r: bytes
    exchange: int
    flags: int
    message_id: int
    payloads: list = field(default_factory=list)
    sk: tuple[int, bytes] | None = None  # (first inner payload type, SK body) until opened
    raw: bytes = b""  # the datagram as received (AUTH signs IKE_SA_INIT's, AAD covers the header)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_RESPONSE)

    @property
    def from_initiator(self) -> bool:
        return bool(self.flags & FLAG_INITIATOR)

    @property
    def name(self) -> str:
        return f"{EXCHANGES.get(self.exchange, self.exchange)} {'response' if self.is_response else 'request'} " \
               f"{self.message_id}"

    def get(self, kind: type, **match):
        """The first payload of class `kind` whose attributes equal `match`, or None."""
        for p in self.payloads:
            if isinstance(p, kind) and all(getattr(p, k) == v for k, v in match.items()):
                return p
        return None

    def notify(self, notify_type: int) -> Notify | None:
        return self.get(Notify, type=notify_type)

    def errors(self) -> list[Notify]:
        return [p for p in self.payloads if isinstance(p, Notify) and p.is_error]


# -- encoding --------------------------------------------------------------------------------


def _encode_body(p) -> bytes:
    if isinstance(p, SaPayload):
        return _encode_proposals(p.proposals)
    if isinstance(p, KePayload):
        return struct.pack("!HH", p.group, 0) + p.data
    if isinstance(p, Identification):
        return p.body
    if isinstance(p, AuthPayload):
        return bytes([p.method, 0, 0, 0]) + p.data
    if isinstance(p, (NoncePayload, VendorId)):
        return p.data
    if isinstance(p, Notify):
        return struct.pack("!BBH", p.protocol, len(p.spi), p.type) + p.spi + p.data
    if isinstance(p, DeletePayload):  # the IKE SA is named by the header: no SPIs (§3.11)
        if p.protocol == PROTO_IKE:
            return struct.pack("!BBH", PROTO_IKE, 0, 0)
        return struct.pack("!BBH", p.protocol, 4, len(p.spis)) + b"".join(p.spis)
    if isinstance(p, TrafficSelectors):
        out = struct.pack("!B3x", len(p.selectors))
        for ts in p.selectors:
            out += struct.pack("!BBHHHII", TS_IPV4_ADDR_RANGE, ts.protocol, 16, ts.start_port, ts.end_port,
                               ts.start_addr, ts.end_addr)
        return out
    if isinstance(p, Unknown):
        return p.body
    raise TypeError(f"not a payload: {p!r}")


def _encode_proposals(proposals: list[Proposal]) -> bytes:
    out = b""
    for i, prop in enumerate(proposals):
        transforms = b""
        for j, t in enumerate(prop.transforms):
            attrs = struct.pack("!HH", 0x8000 | ATTR_KEY_LENGTH, t.key_length) if t.key_length else b""
            transforms += struct.pack("!BBHBBH", 0 if j == len(prop.transforms) - 1 else 3, 0, 8 + len(attrs),
                                      t.type, 0, t.id) + attrs
        body = struct.pack("!BBBB", prop.number, prop.protocol, len(prop.spi), len(prop.transforms)) + prop.spi
        body += transforms
        out += struct.pack("!BBH", 0 if i == len(proposals) - 1 else 2, 0, 4 + len(body)) + body
    return out


def encode_chain(payloads: list, next_after: int = NO_NEXT) -> tuple[int, bytes]:
    """(type of the first payload, the payloads with their generic headers, §3.2)."""
    out = b""
    for i, p in enumerate(payloads):
        body = _encode_body(p)
        nxt = payloads[i + 1].TYPE if i + 1 < len(payloads) else next_after
        critical = 0x80 if isinstance(p, Unknown) and p.critical else 0
        out += struct.pack("!BBH", nxt, critical, 4 + len(body)) + body
    return (payloads[0].TYPE if payloads else next_after), out


def encode_header(m: Message, first: int, length: int) -> bytes:
    return HEADER.pack(m.spi_i, m.spi_r, first, VERSION, m.exchange, m.flags, m.message_id, length)


def encode(m: Message) -> bytes:
    """A message without an SK payload (IKE_SA_INIT), its payloads in the clear."""
    first, chain = encode_chain(m.payloads)
    return encode_header(m, first, HEADER_LEN + len(chain)) + chain


# -- decoding --------------------------------------------------------------------------------


def decode(data: bytes) -> Message:
    """A datagram as a message: header checked (§3.1: version 2, length equal to the
    datagram's), payloads parsed up to an SK payload, which must be the last (§3.14)."""
    if len(data) > MAX_MESSAGE:
        raise ParseError(f"message of {len(data)} bytes is longer than {MAX_MESSAGE}", None)
    if len(data) < HEADER_LEN:
        raise ParseError(f"message of {len(data)} bytes is shorter than the {HEADER_LEN}-byte header", None)
    spi_i, spi_r, first, version, exchange, flags, mid, length = HEADER.unpack_from(data)
    if version >> 4 != 2:
        raise ParseError(f"IKE major version {version >> 4} (only 2)", INVALID_MAJOR_VERSION)
    if length != len(data):
        raise ParseError(f"header length {length} differs from the datagram's {len(data)} bytes", None)
    if spi_i == bytes(8):
        raise ParseError("initiator SPI is zero (§3.1)", None)
    m = Message(spi_i, spi_r, exchange, flags, mid, raw=bytes(data))
    m.payloads, sk = _decode_chain(data, HEADER_LEN, first, allow_sk=True)
    m.sk = sk
    return m


def decode_chain(data: bytes, first: int) -> list:
    """The payloads of an opened SK payload (§3.14): a chain with no further SK in it."""
    return _decode_chain(data, 0, first, allow_sk=False)[0]


def _decode_chain(data: bytes, at: int, nxt: int, allow_sk: bool) -> tuple[list, tuple[int, bytes] | None]:
    payloads, sk, count = [], None, 0
    while nxt != NO_NEXT:
        count += 1
        if at + 4 > len(data):
            raise ParseError(f"payload {count} (type {nxt}) truncated: its header needs 4 bytes, {len(data) - at} left")
        following, flags, length = struct.unpack_from("!BBH", data, at)
        if length < 4 or at + length > len(data):
            raise ParseError(f"payload {count} (type {nxt}) length {length} does not fit the {len(data) - at} "
                             f"bytes left")
        body = bytes(data[at + 4: at + length])
        if nxt == SK:
            if not allow_sk:
                raise ParseError("an SK payload inside an SK payload")
            if at + length != len(data):
                raise ParseError("the SK payload is not the last payload (§3.14)")
            return payloads, (following, body)
        try:
            payloads.append(_decode_body(nxt, bool(flags & 0x80), body))
        except (struct.error, IndexError):
            raise ParseError(f"payload {count} (type {nxt}) truncated inside its {len(body)} bytes") from None
        at, nxt = at + length, following
    if at != len(data):
        raise ParseError(f"{len(data) - at} bytes after the last payload")
    return payloads, sk


def _decode_body(kind: int, critical: bool, body: bytes):
    if kind == SA:
        return SaPayload(_decode_proposals(body))
    if kind == KE:
        group, _ = struct.unpack_from("!HH", body)
        return KePayload(group, body[4:])
    if kind in (IDI, IDR):
        if len(body) < 5:
            raise ParseError(f"ID payload of {len(body)} bytes: no identity")
        return Identification(kind == IDI, body[0], body[4:])
    if kind == AUTH:
        if len(body) < 5:
            raise ParseError(f"AUTH payload of {len(body)} bytes: no authentication data")
        return AuthPayload(body[0], body[4:])
    if kind == NONCE:
        if not 16 <= len(body) <= 256:
            raise ParseError(f"nonce of {len(body)} bytes is not 16..256 (§2.10)")
        return NoncePayload(body)
    if kind == NOTIFY:
        protocol, spi_size, notify_type = struct.unpack_from("!BBH", body)
        if 4 + spi_size > len(body):
            raise ParseError(f"notify {notify_type}: SPI of {spi_size} bytes does not fit")
        return Notify(notify_type, protocol, body[4:4 + spi_size], body[4 + spi_size:])
    if kind == DELETE:
        protocol, spi_size, n = struct.unpack_from("!BBH", body)
        if protocol == PROTO_IKE and (spi_size, n) != (0, 0) and spi_size != 8:
            raise ParseError(f"delete of the IKE SA with SPI size {spi_size}")
        if protocol in (PROTO_AH, PROTO_ESP) and spi_size != 4:
            raise ParseError(f"delete of protocol {protocol} with SPI size {spi_size} (4 expected)")
        if 4 + spi_size * n != len(body):
            raise ParseError(f"delete: {n} SPIs of {spi_size} bytes do not fill its {len(body) - 4} bytes")
        return DeletePayload(protocol, [body[4 + i * spi_size: 4 + (i + 1) * spi_size] for i in range(n)])
    if kind == VENDOR:
        return VendorId(body)
    if kind in (TSI, TSR):
        return TrafficSelectors(kind == TSI, _decode_selectors(body))
    if critical:
        raise ParseError(f"critical payload of type {kind} not supported", UNSUPPORTED_CRITICAL_PAYLOAD,
                         bytes([kind]))
    return Unknown(kind, critical, body)


def _decode_selectors(body: bytes) -> list[TrafficSelector]:
    n = body[0]
    if n == 0:
        raise ParseError("traffic selector payload with no selectors")
    at, out = 4, []
    for i in range(n):
        if at + 4 > len(body):
            raise ParseError(f"traffic selector {i}: truncated")
        ts_type, proto, length = struct.unpack_from("!BBH", body, at)
        if length < 8 or at + length > len(body):
            raise ParseError(f"traffic selector {i}: length {length} does not fit")
        if ts_type == TS_IPV4_ADDR_RANGE:
            if length != 16:
                raise ParseError(f"traffic selector {i}: an IPv4 range is 16 bytes, not {length}")
            sp, ep, sa, ea = struct.unpack_from("!HHII", body, at + 4)
            if sp > ep or sa > ea:
                raise ParseError(f"traffic selector {i}: start above end")
            out.append(TrafficSelector(proto, sp, ep, sa, ea))
        # other types (IPv6 ranges) are skipped: this daemon protects IPv4 only
        at += length
    if at != len(body):
        raise ParseError(f"{len(body) - at} bytes after the traffic selectors")
    return out


def _decode_proposals(body: bytes) -> list[Proposal]:
    at, out, last = 0, [], 2
    while last == 2:
        if at + 8 > len(body):
            raise ParseError(f"proposal {len(out) + 1}: truncated")
        last, _, length, number, protocol, spi_size, n = struct.unpack_from("!BBHBBBB", body, at)
        if last not in (0, 2):
            raise ParseError(f"proposal {number}: 'last' is {last}, not 0 or 2")
        if length < 8 + spi_size or at + length > len(body):
            raise ParseError(f"proposal {number}: length {length} does not fit")
        end, spi = at + length, body[at + 8: at + 8 + spi_size]
        at, transforms, t_last = at + 8 + spi_size, [], 3
        while t_last == 3 and len(transforms) < n:
            if at + 8 > end:
                raise ParseError(f"proposal {number}: transform {len(transforms) + 1} truncated")
            t_last, _, t_len, t_type, _, t_id = struct.unpack_from("!BBHBBH", body, at)
            if t_len < 8 or at + t_len > end:
                raise ParseError(f"proposal {number}: transform length {t_len} does not fit")
            key_length, a = None, at + 8
            while a < at + t_len:
                if a + 4 > at + t_len:
                    raise ParseError(f"proposal {number}: transform attribute truncated")
                attr, value = struct.unpack_from("!HH", body, a)
                if not attr & 0x8000:  # TLV: skip its value (none is defined for IKEv2 transforms)
                    a += 4 + value
                    continue
                if attr & 0x7FFF == ATTR_KEY_LENGTH:
                    key_length = value
                a += 4
            if a != at + t_len:
                raise ParseError(f"proposal {number}: transform attributes overrun")
            transforms.append(Transform(t_type, t_id, key_length))
            at += t_len
        if len(transforms) != n or at != end or t_last != 0:
            raise ParseError(f"proposal {number}: {n} transforms announced, {len(transforms)} found")
        out.append(Proposal(number, protocol, spi, transforms))
    if at != len(body):
        raise ParseError(f"{len(body) - at} bytes after the last proposal")
    return out
