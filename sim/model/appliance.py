"""The bump-in-the-wire appliance, frames in and frames out: the reference every other
implementation of espline is scored against.

Three ports: PLAIN (the trusted LAN), CIPHER (the untrusted WAN) and HOST (the management
CPU: IKE is punted to it, and what it injects leaves on CIPHER). Layer 2 is transparent: the
Ethernet header (and one 802.1Q tag) of a frame is kept, only its IPv4 packet is replaced.

PLAIN -> CIPHER: non-IP frames pass; IPv4 goes through the outbound SPD (RFC 4301 §5.1):
protect (ESP-encapsulate with the policy's SA), bypass, or discard.
CIPHER -> PLAIN: ESP (IP protocol 50, or UDP/4500 per RFC 3948) is decapsulated with the SA
its SPI names, and the inner packet must match an inbound protect policy of that SA
(RFC 4301 §5.2); IKE (UDP 500, UDP/4500 with the non-ESP marker) is punted to HOST;
NAT-keepalives are absorbed; other cleartext goes through the inbound SPD.

Frame sizes (docs/frames.md): a frame of 0 .. `max_frame` bytes into PLAIN or CIPHER is decided
as above (runts, below an Ethernet header, are malformed); a longer one is malformed too.

`Appliance.from_config` is the loader: a configuration (`espline.config`) held to the one
validation for a hardware build, then the appliance. The constructor takes SAs and policies as
they come (the tests' and benches' peers need not fit any build).
"""

from enum import Enum
from typing import NamedTuple

from espline.config import Build, Config, Options, validate
from espline.config.build import DEFAULT_BUILD
from espline.regmap import DEFAULTS

from . import esp, icmp, ipv4
from .accounting import Drop, GlobalCounters, Reason
from .frame import ETH_IPV4, ETH_IPV6, split
from .sa import SaDatabase, SecurityAssociation
from .spd import PolicyDatabase, packet_fields

IKE_PORT = 500
NAT_T_PORT = 4500
NON_ESP_MARKER = b"\0\0\0\0"
MAX_FRAME = DEFAULTS["MAX_FRAME"]  # the register map's CAP_FRAME.MAX_FRAME of the default build
ICMP_EVERY, ICMP_BURST = 16, 4  # ICMP rate limit: a token per 16 plaintext frames, at most 4 (icmp.RateLimit)


class Port(Enum):
    PLAIN = "plain"
    CIPHER = "cipher"
    HOST = "host"


class Verdict(NamedTuple):
    port: Port | None  # where the frame leaves, or None when dropped
    frame: bytes | None
    reason: Reason | None = None
    answer: bytes | None = None  # a frame generated in reply, leaving on PLAIN (ICMP, docs/model.md)


class TooBig(Drop):
    """A protected packet that would exceed the MTU: dropped `too-big`, with what its answer needs."""

    def __init__(self, frame: bytes, l2: int, packet: bytes, ihl: int, sa: SecurityAssociation):
        super().__init__(Reason.TOO_BIG)
        self.frame, self.l2, self.packet, self.ihl, self.sa = frame, l2, packet, ihl, sa


class Appliance:
    def __init__(self, sas=(), policies=(), *, default_policy: str = "discard", ipv6: str = "discard",
                 mtu: int = 9000, max_frame: int = MAX_FRAME, icmp_every: int = ICMP_EVERY,
                 icmp_burst: int = ICMP_BURST):
        Options(default_policy, ipv6, mtu)  # refuses a bad option by name
        self.icmp_limit = icmp.RateLimit(icmp_every, icmp_burst)
        self.sad = SaDatabase()
        for sa in sas:
            self.sad.add(sa)
        self.spd = PolicyDatabase(policies, default_policy)
        self.ipv6 = ipv6
        self.mtu = mtu
        self.max_frame = max_frame
        self.counters = GlobalCounters()
        self.events: list = []  # (sa.Event, SecurityAssociation), oldest first
        self._handlers = {Port.PLAIN: self._from_plain, Port.CIPHER: self._from_cipher, Port.HOST: self._from_host}

    @classmethod
    def from_config(cls, config: Config, build: Build = DEFAULT_BUILD) -> "Appliance":
        """The appliance `config` describes, if `build`'s hardware takes it (`espline.config.validate`,
        ConfigError otherwise); its SAs start fresh."""
        validate(config, build)
        o = config.options
        return cls([SecurityAssociation.from_config(sa) for sa in config.sas], config.policies,
                   default_policy=o.default_policy, ipv6=o.ipv6, mtu=o.mtu, max_frame=build.max_frame)

    def process(self, port: Port, frame: bytes) -> Verdict:
        """One frame in on `port`; exactly one verdict out, counted."""
        c = self.counters
        if port is Port.PLAIN:
            c.rx_plain += 1
            self.icmp_limit.frame_in()
        elif port is Port.CIPHER:
            c.rx_cipher += 1
        else:
            c.rx_host += 1
        try:
            if port is not Port.HOST and len(frame) > self.max_frame:
                raise Drop(Reason.MALFORMED)
            verdict = self._handlers[port](frame)
        except Drop as drop:
            c.drops[drop.reason] += 1
            return Verdict(None, None, drop.reason, self._answer(drop))
        if verdict.port is Port.PLAIN:
            c.tx_plain += 1
        elif verdict.port is Port.CIPHER:
            c.tx_cipher += 1
        else:
            c.punted += 1
        return verdict

    # -- per port --------------------------------------------------------------------------

    def _ip_packet(self, frame: bytes, bypass_to: Port):
        """(l2 length, IPv4 packet, header length); a Verdict for frames that are not IPv4."""
        l2, ethertype = split(frame)
        if ethertype == ETH_IPV6:
            if self.ipv6 == "discard":
                raise Drop(Reason.POLICY)
            return Verdict(bypass_to, frame)
        if ethertype != ETH_IPV4:
            return Verdict(bypass_to, frame)
        packet = frame[l2:]
        ihl = ipv4.header_length(packet)
        if ihl is None:
            raise Drop(Reason.MALFORMED)
        return l2, packet[: ipv4.total_length(packet)], ihl

    def _apply_policy(self, policy, frame: bytes, to: Port) -> Verdict:
        action = policy.action if policy else self.spd.default
        if action == "bypass":
            return Verdict(to, frame)
        raise Drop(Reason.POLICY)

    def _from_plain(self, frame: bytes) -> Verdict:
        parsed = self._ip_packet(frame, Port.CIPHER)
        if isinstance(parsed, Verdict):
            return parsed
        l2, packet, ihl = parsed
        policy = self.spd.lookup("out", *packet_fields(packet, ihl))
        if policy is None or policy.action != "protect":
            return self._apply_policy(policy, frame, Port.CIPHER)
        sa = self.sad.get("out", policy.spi)
        if sa is None:
            raise Drop(Reason.NO_SA)
        protected = esp.encapsulate(sa, packet, ihl, self.events)
        if len(protected) > self.mtu:
            raise TooBig(frame, l2, packet, ihl, sa)
        return Verdict(Port.CIPHER, frame[:l2] + protected)

    def _answer(self, drop: Drop) -> bytes | None:
        """The ICMP "fragmentation needed" a too-big drop gets, if it gets one and a token is
        left (counted `icmp_sent`, else `icmp_limited`); None otherwise."""
        if not isinstance(drop, TooBig) or not icmp.answerable(drop.packet, drop.ihl):
            return None
        if not self.icmp_limit.take():
            self.counters.icmp_limited += 1
            return None
        self.counters.icmp_sent += 1
        return icmp.frag_needed(drop.frame, drop.l2, drop.packet, drop.ihl, icmp.source(drop.sa, drop.packet),
                                icmp.next_hop_mtu(drop.sa, self.mtu, drop.ihl))

    def _from_cipher(self, frame: bytes) -> Verdict:
        parsed = self._ip_packet(frame, Port.PLAIN)
        if isinstance(parsed, Verdict):
            return parsed
        l2, packet, ihl = parsed
        proto = packet[9]
        if proto == ipv4.PROTO_ESP:
            return self._decapsulate(frame, l2, packet, ihl, ihl, nat_t=False)
        fields = packet_fields(packet, ihl)
        if proto == ipv4.PROTO_UDP and not ipv4.is_fragment(packet):
            if len(packet) < ihl + 8 or int.from_bytes(packet[ihl + 4 : ihl + 6], "big") != len(packet) - ihl:
                raise Drop(Reason.MALFORMED)  # UDP length must fill the IP packet
            sport, dport = fields[3]
            if IKE_PORT in (sport, dport):
                return Verdict(Port.HOST, frame)
            if dport == NAT_T_PORT:
                udp_payload = packet[ihl + 8 :]
                if udp_payload == b"\xff":
                    raise Drop(Reason.KEEPALIVE)
                if udp_payload[:4] == NON_ESP_MARKER:
                    return Verdict(Port.HOST, frame)
                return self._decapsulate(frame, l2, packet, ihl, ihl + 8, nat_t=True)
        policy = self.spd.lookup("in", *fields)
        if policy is not None and policy.action == "protect":
            raise Drop(Reason.POLICY)  # cleartext where the policy demands ESP
        return self._apply_policy(policy, frame, Port.PLAIN)

    def _from_host(self, frame: bytes) -> Verdict:
        return Verdict(Port.CIPHER, frame)

    def _decapsulate(self, frame: bytes, l2: int, packet: bytes, ihl: int, esp_at: int, nat_t: bool) -> Verdict:
        if ipv4.is_fragment(packet) or len(packet) < esp_at + 8:
            raise Drop(Reason.MALFORMED)  # no reassembly: ESP fragments are dropped
        sa = self.sad.get("in", esp.esp_spi(packet[esp_at:]))
        if sa is None:
            raise Drop(Reason.NO_SA)
        if (sa.encap is not None) != nat_t:
            raise Drop(Reason.POLICY)  # arrived with an encapsulation the SA does not use
        inner = esp.decapsulate(sa, packet, ihl, esp_at, self.events)
        if not self.spd.admits(sa.spi, *packet_fields(inner, (inner[0] & 0x0F) * 4)):
            raise Drop(Reason.POLICY)  # inner packet outside the SA's selectors
        return Verdict(Port.PLAIN, frame[:l2] + inner)
