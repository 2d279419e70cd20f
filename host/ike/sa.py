"""One IKE SA and its Child SAs: the exchanges of RFC 7296 as initiator and responder.

IKE_SA_INIT (§1.2), IKE_AUTH with a pre-shared key and one Child SA (§1.2, §2.15),
CREATE_CHILD_SA to rekey a Child SA (§1.3.3, make-before-break) or the IKE SA (§1.3.2, §2.18),
INFORMATIONAL with DELETE or empty as a liveness check (§1.4, §2.4). Message IDs and a window
of one (§2.3): one request of ours outstanding at a time, retransmitted with back-off until
answered or given up (§2.1); a peer's retransmitted request gets the same response again, an
out-of-window one is dropped. NAT detection (§2.23) moves the exchange to UDP 4500 and makes the
Child SAs UDP-encapsulated (RFC 3948).

Errors in a peer's message (`ParseError`, `CryptoError`, `ProtocolError`) are logged and the
message dropped, or answered with the error notify §2.21 asks for; nothing a peer sends ends
the daemon.
"""

import hashlib
import ipaddress
import logging
import os
import struct
from dataclasses import dataclass, field

from . import keys, proposals
from .crypto import GROUPS, CryptoError
from .identity import id_text, identification
from .message import (
    AUTH_PSK,
    AUTHENTICATION_FAILED,
    CHILD_SA_NOT_FOUND,
    COOKIE,
    CREATE_CHILD_SA,
    DH,
    FLAG_INITIATOR,
    FLAG_RESPONSE,
    HEADER_LEN,
    IKE_AUTH,
    IKE_SA_INIT,
    INFORMATIONAL,
    INVALID_KE_PAYLOAD,
    INVALID_SYNTAX,
    NAT_DETECTION_DESTINATION_IP,
    NAT_DETECTION_SOURCE_IP,
    NO_PROPOSAL_CHOSEN,
    PROTO_ESP,
    PROTO_IKE,
    REKEY_SA,
    SK,
    TEMPORARY_FAILURE,
    TS_UNACCEPTABLE,
    AuthPayload,
    DeletePayload,
    Identification,
    KePayload,
    Message,
    NoncePayload,
    Notify,
    ParseError,
    SaPayload,
    TrafficSelector,
    TrafficSelectors,
    decode_chain,
    encode,
    encode_chain,
    encode_header,
)
from .selectors import narrow, ts_of, ts_text, within

log = logging.getLogger("espline.ike")
#: What the driver raises when the appliance refuses a table command (ConfigError is a
#: ValueError, HardwareError a RuntimeError) or does not answer.
INSTALL_ERRORS = (ValueError, RuntimeError, TimeoutError, OSError)
NONCE_LENGTH = 32  # at least half the PRF's key size (§2.10)
HALF_OPEN_TIMEOUT = 30.0  # a responder's IKE SA without IKE_AUTH is forgotten after this (§2.4)
IKE_PORT, NAT_T_PORT = 500, 4500


class ProtocolError(Exception):
    """A peer's request refused with error notify `notify` (§2.21)."""

    def __init__(self, message: str, notify: int, data: bytes = b""):
        super().__init__(message)
        self.notify, self.data = notify, data


def nat_hash(spi_i: bytes, spi_r: bytes, addr: str, port: int) -> bytes:
    """SHA-1(SPIs | IP address | port) of NAT_DETECTION_*_IP (§2.23)."""
    return hashlib.sha1(spi_i + spi_r + ipaddress.IPv4Address(addr).packed + struct.pack("!H", port)).digest()


@dataclass
class ChildSa:
    """One Child SA (ESP, tunnel mode) as negotiated: what the installer programs."""
    name: str
    number: int
    spi_in: int
    spi_out: int
    key_in: bytes
    key_out: bytes
    esn: bool
    suite: proposals.Suite
    local_addr: str
    remote_addr: str
    local_ts: list[TrafficSelector]
    remote_ts: list[TrafficSelector]
    encap: tuple[int, int] | None  # (local port, remote port) of ESP in UDP, RFC 3948
    rekey_at: float
    expire_at: float
    rekey_bytes: int = 0
    life_bytes: int = 0
    rekey_packets: int = 0
    life_packets: int = 0
    outbound: bool = False  # its outbound SA is installed (a rekey's responder waits for the old one's delete)
    rekeying: bool = False
    deleting: bool = False  # our DELETE for it is out
    replaced_by: "ChildSa | None" = None  # the new Child SA of a rekey that replaces this one

    def describe(self) -> str:
        return (f"CHILD_SA {self.name}{{{self.number}}} SPIs {self.spi_in:08x}_i {self.spi_out:08x}_o "
                f"{self.suite.describe()}{', UDP-encapsulated' if self.encap else ''}")


@dataclass
class Request:
    """Our outstanding request (window of one, §2.3): sent `tries` times, next retransmission at `due`."""
    message_id: int
    data: bytes
    on_response: object
    due: float
    tries: int = 1


@dataclass
class IkeSa:
    daemon: object
    conn: object  # espline.config.ike.Connection
    initiator: bool  # the original initiator of this IKE SA (§2.2: the I flag)
    spi_i: bytes
    spi_r: bytes = bytes(8)
    number: int = 0
    state: str = "new"  # new | init | auth | established | deleting | dead
    remote_port: int = IKE_PORT
    local_port: int = IKE_PORT
    nat: bool = False  # use UDP encapsulation (a NAT detected or encap forced)
    suite: proposals.Suite | None = None
    ike_keys: keys.IkeKeys | None = None
    send_cipher: object = None
    recv_cipher: object = None
    nonce_i: bytes = b""
    nonce_r: bytes = b""
    init_request: bytes = b""  # IKE_SA_INIT's messages as sent, signed by AUTH (§2.15)
    init_response: bytes = b""
    next_id: int = 0  # our next request's message ID
    peer_id: int = 0  # the peer's next request's message ID
    pending: Request | None = None
    queue: list = field(default_factory=list)
    last_response: tuple[int, bytes] | None = None
    children: list[ChildSa] = field(default_factory=list)
    last_heard: float = 0.0
    rekey_at: float = 0.0
    dh: tuple | None = None  # (group, private key) while an exchange needs it
    cookie: bytes = b""
    rekeying_ike: bool = False
    auth_child: tuple | None = None  # (configured child, inbound SPI) offered with IKE_AUTH

    # -- identity and logging -----------------------------------------------------------------

    @property
    def local_spi(self) -> bytes:
        return self.spi_i if self.initiator else self.spi_r

    @property
    def remote_addr(self) -> str:
        return self.conn.remote_addr

    @property
    def local_addr(self) -> str:
        return self.conn.local_addr

    def __str__(self) -> str:
        return f"IKE_SA {self.conn.name}[{self.number}]"

    @property
    def now(self) -> float:
        return self.daemon.clock()

    # -- sending ---------------------------------------------------------------------------------

    def _flags(self, response: bool) -> int:
        return (FLAG_INITIATOR if self.initiator else 0) | (FLAG_RESPONSE if response else 0)

    def _protect(self, exchange: int, message_id: int, payloads: list, response: bool) -> bytes:
        """A message with its payloads in an SK payload (§3.14)."""
        m = Message(self.spi_i, self.spi_r, exchange, self._flags(response), message_id)
        first, chain = encode_chain(payloads)
        sk_length = 4 + self.send_cipher.overhead(len(chain)) + len(chain)
        header = encode_header(m, SK, HEADER_LEN + sk_length)
        sk_header = struct.pack("!BBH", first, 0, sk_length)
        return header + sk_header + self.send_cipher.seal(header + sk_header, chain)

    def _transmit(self, data: bytes) -> None:
        self.daemon.transmit(self, data)

    def request(self, exchange: int, payloads: list, on_response, clear: bool = False) -> None:
        """Send a request now if none is outstanding, else once the outstanding one is answered."""
        def start():
            data = encode(Message(self.spi_i, self.spi_r, exchange, self._flags(False), self.next_id, payloads)) \
                if clear else self._protect(exchange, self.next_id, payloads, False)
            self.pending = Request(self.next_id, data, on_response, self.now + self.daemon.retransmit_timeout)
            if exchange == IKE_SA_INIT:
                self.init_request = data
            self._transmit(data)
        self.queue.append(start)
        self._next()

    def _next(self) -> None:
        if self.pending is None and self.queue and self.state not in ("dead",):
            self.queue.pop(0)()

    def _respond(self, request: Message, payloads: list) -> None:
        data = self._protect(request.exchange, request.message_id, payloads, True)
        self.last_response = (request.message_id, data)
        self._transmit(data)

    # -- timers ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        if not self.initiator and self.state == "auth" and now - self.last_heard > HALF_OPEN_TIMEOUT:
            log.info("%s: no IKE_AUTH from %s within %.0f s: half-open IKE SA forgotten", self, self.remote_addr,
                     HALF_OPEN_TIMEOUT)
            self.destroy()
            return
        p = self.pending
        if p is not None and now >= p.due:
            if p.tries > self.daemon.retransmit_tries:
                log.warning("%s: no response to request %d after %d retransmissions: peer %s is dead, deleting",
                            self, p.message_id, p.tries - 1, self.remote_addr)
                self.destroy()
                return
            p.tries += 1
            p.due = now + self.daemon.retransmit_timeout * self.daemon.retransmit_base ** (p.tries - 1)
            log.info("%s: retransmit %d of request %d", self, p.tries - 1, p.message_id)
            self._transmit(p.data)
        if self.state != "established":
            return
        for child in list(self.children):
            if child.expire_at and now >= child.expire_at and not child.deleting:
                log.info("%s: %s hard lifetime reached, deleting", self, child.describe())
                self.delete_child(child)
            elif (child.rekey_at and now >= child.rekey_at and not (child.rekeying or child.deleting)
                  and child.replaced_by is None):
                self.rekey_child(child)
        if self.conn.rekey_time and self.rekey_at and now >= self.rekey_at:
            self.rekey_at = 0.0
            self.rekey_ike()
        if (self.conn.dpd_delay and self.pending is None and not self.queue
                and now - self.last_heard >= self.conn.dpd_delay):
            self.last_heard = now
            self.request(INFORMATIONAL, [], self._dpd_response)

    def next_due(self) -> float | None:
        times = [self.pending.due] if self.pending else []
        if not self.initiator and self.state == "auth":
            times.append(self.last_heard + HALF_OPEN_TIMEOUT)
        if self.state == "established":
            times += [t for c in self.children for t in (c.rekey_at, c.expire_at) if t]
            if self.rekey_at:
                times.append(self.rekey_at)
            if self.conn.dpd_delay:
                times.append(self.last_heard + self.conn.dpd_delay)
        return min(times) if times else None

    # -- receiving -------------------------------------------------------------------------------

    def handle(self, m: Message, src: str, sport: int, dport: int) -> None:
        """A message for this IKE SA (its SPIs matched)."""
        if m.is_response:
            if self.pending is None or m.message_id != self.pending.message_id:
                log.info("%s: %s is not the response we wait for: dropped", self, m.name)
                return
            self._open(m)
            self.last_heard = self.now
            self._float(src, sport, dport)
            handler, self.pending = self.pending.on_response, None
            self.next_id += 1
            handler(m)
            self._next()
            return
        if self.last_response and m.message_id == self.last_response[0]:
            self._open(m)  # only an authentic retransmission gets the response again
            log.info("%s: retransmitted %s: response sent again", self, m.name)
            self._transmit(self.last_response[1])
            return
        if m.message_id != self.peer_id:
            log.info("%s: %s outside the window (expected message ID %d): dropped", self, m.name, self.peer_id)
            return
        try:
            self._open(m)
        except ParseError as e:
            if not getattr(e, "authentic", False) or e.notify is None:
                raise
            log.warning("%s: %s refused: %s", self, m.name, e)
            self.peer_id += 1
            self._respond(m, [Notify(e.notify, data=e.data)])
            if m.exchange == IKE_AUTH:
                self.destroy()
            return
        self.last_heard = self.now
        self._float(src, sport, dport)
        self.peer_id += 1
        handler = {IKE_AUTH: self._auth_request, CREATE_CHILD_SA: self._create_child_request,
                   INFORMATIONAL: self._informational_request}.get(m.exchange)
        if handler is None or (m.exchange == IKE_AUTH) != (self.state == "auth"):
            log.info("%s: %s unexpected in state %s: answered INVALID_SYNTAX", self, m.name, self.state)
            self._respond(m, [Notify(INVALID_SYNTAX)])
            return
        try:
            handler(m)
        except (ProtocolError, ParseError, CryptoError) as e:
            notify = getattr(e, "notify", None) or INVALID_SYNTAX
            log.warning("%s: %s refused: %s", self, m.name, e)
            self._respond(m, [Notify(notify, data=getattr(e, "data", b""))])
            if m.exchange == IKE_AUTH:
                self.destroy()
        self._next()

    def _open(self, m: Message) -> None:
        """Decrypt an SK payload in place (§3.14); IKE_SA_INIT comes in the clear."""
        if m.exchange == IKE_SA_INIT:
            return
        if m.sk is None:
            raise ParseError(f"{m.name} without an SK payload", None)
        first, body = m.sk
        sk_at = len(m.raw) - len(body) - 4
        plain = self.recv_cipher.open(m.raw[:sk_at + 4], body)
        try:
            m.payloads = m.payloads + decode_chain(plain, first)
        except ParseError as e:
            e.authentic = True  # the ICV verified: the peer sent this, an error notify is its due (§2.21)
            raise
        m.sk = None

    def _float(self, src: str, sport: int, dport: int) -> None:
        """Answer where the peer's authentic messages come from (§2.11, §2.23): its port after a NAT."""
        if src == self.remote_addr and sport != self.remote_port:
            log.info("%s: peer now at %s:%d", self, src, sport)
            self.remote_port, self.local_port = sport, dport
            for child in self.children:
                if child.encap is not None and child.encap != (dport, sport):
                    child.encap = (dport, sport)
                    try:  # the SAs' UDP ports change in place: an update keeps keys and counters
                        self.daemon.installer.update_encap(child)
                    except INSTALL_ERRORS as e:
                        log.warning("%s: the appliance refused the new ports of %s: %s", self, child.describe(), e)

    # -- IKE_SA_INIT -----------------------------------------------------------------------------

    def _nat_payloads(self, spi_r: bytes) -> list[Notify]:
        """NAT_DETECTION_SOURCE_IP and _DESTINATION_IP (§2.23); `encap` fakes the source hash so
        the peer sees a NAT and both sides encapsulate, as swanctl's encap does."""
        src = nat_hash(self.spi_i, spi_r, self.local_addr, self.local_port)
        if self.conn.encap:
            src = os.urandom(20)
        return [Notify(NAT_DETECTION_SOURCE_IP, data=src),
                Notify(NAT_DETECTION_DESTINATION_IP, data=nat_hash(self.spi_i, spi_r, self.remote_addr,
                                                                   self.remote_port))]

    def _detect_nat(self, m: Message) -> bool:
        """Whether a NAT lies between us (§2.23): the peer's hashes of the addresses it saw differ
        from ours of the addresses we used. Without NAT_DETECTION payloads: no NAT-T."""
        sources = [n.data for n in m.payloads if isinstance(n, Notify) and n.type == NAT_DETECTION_SOURCE_IP]
        dest = m.notify(NAT_DETECTION_DESTINATION_IP)
        if not sources or dest is None:
            return self.conn.encap
        peer = nat_hash(m.spi_i, m.spi_r, self.remote_addr, self.remote_port)
        us = nat_hash(m.spi_i, m.spi_r, self.local_addr, self.local_port)
        peer_nat, our_nat = peer not in sources, dest.data != us
        if peer_nat or our_nat:
            log.info("%s: NAT detected (%s): UDP encapsulation on port 4500", self,
                     "peer behind NAT" if peer_nat else "we are behind NAT")
        return peer_nat or our_nat or self.conn.encap

    def initiate(self, group: int | None = None) -> None:
        """Send IKE_SA_INIT (§1.2) with the DH group of our first proposal, or `group`; after a
        COOKIE the same KE and nonce again, the cookie first (§2.6)."""
        ours = self.daemon.ike_proposals(self.conn)
        if group is None:
            group = ours[0].of_type(DH)[0].id
        if not (self.cookie and self.dh and self.dh[0].number == group):
            g = GROUPS[group]
            self.dh, self.nonce_i = (g, g.generate()), os.urandom(NONCE_LENGTH)
        g, private = self.dh
        self.state = "init"
        payloads = [SaPayload(proposals.offer(ours, b"", group)), KePayload(group, g.public(private)),
                    NoncePayload(self.nonce_i)] + self._nat_payloads(bytes(8))
        if self.cookie:
            payloads.insert(0, Notify(COOKIE, data=self.cookie))
        log.info("%s: initiating to %s (%s)", self, self.remote_addr, g.name)
        self.request(IKE_SA_INIT, payloads, self._init_response, clear=True)

    def _init_response(self, m: Message) -> None:
        cookie, invalid_ke = m.notify(COOKIE), m.notify(INVALID_KE_PAYLOAD)
        if cookie is not None or invalid_ke is not None:
            self.next_id = 0  # IKE_SA_INIT again, as message 0 (§2.6, §1.2)
        if cookie is not None:
            if self.cookie:  # one retry with a cookie (§2.6); a second COOKIE ends the attempt
                log.warning("%s: the responder asks for a cookie again: giving up", self)
                self.destroy()
                return
            log.info("%s: the responder asks for a cookie (COOKIE): retrying with it", self)
            self.cookie = cookie.data
            self.initiate(self.dh[0].number)
            return
        if invalid_ke is not None and len(invalid_ke.data) == 2:
            group = int.from_bytes(invalid_ke.data, "big")
            offered = {t.id for p in self.daemon.ike_proposals(self.conn) for t in p.of_type(DH)}
            if group in offered and group != self.dh[0].number:
                log.info("%s: peer asks for DH group %d (INVALID_KE_PAYLOAD): retrying", self, group)
                self.initiate(group)
                return
        if m.errors():
            log.warning("%s: IKE_SA_INIT refused by the peer: notify %s", self, [n.type for n in m.errors()])
            self.destroy()
            return
        try:
            sa, ke, nonce = m.get(SaPayload), m.get(KePayload), m.get(NoncePayload)
            if sa is None or ke is None or nonce is None or len(sa.proposals) != 1:
                raise ParseError("IKE_SA_INIT response lacks SA (one proposal), KE or nonce")
            offered = proposals.offer(self.daemon.ike_proposals(self.conn), b"", self.dh[0].number)
            if not proposals.check_choice(sa.proposals[0], offered):
                raise ParseError("the responder chose a proposal we did not offer")
            suite = proposals.Suite.of(sa.proposals[0])
            if suite.dh != ke.group or ke.group != self.dh[0].number:
                raise ParseError(f"KE group {ke.group} is not the chosen or offered group")
            shared = self.dh[0].shared(self.dh[1], ke.data)
        except (ParseError, CryptoError) as e:
            log.warning("%s: IKE_SA_INIT response refused: %s", self, e)
            self.destroy()
            return
        self.spi_r, self.nonce_r, self.suite, self.init_response = m.spi_r, nonce.data, suite, m.raw
        self._derive(keys.skeyseed(self.nonce_i, self.nonce_r, shared))
        self.daemon.register(self)
        self.nat = self._detect_nat(m)
        if self.nat:
            self.local_port = self.remote_port = NAT_T_PORT
        self.state = "auth"
        self._send_auth()

    def _derive(self, skeyseed: bytes) -> None:
        self.ike_keys = keys.IkeKeys.derive(self.suite, skeyseed, self.nonce_i, self.nonce_r, self.spi_i, self.spi_r)
        self.send_cipher, self.recv_cipher = self.ike_keys.ciphers(self.suite, self.initiator)
        self.dh = None
        self.daemon.log_keys(self)

    def respond_init(self, m: Message, src_port: int, dst_port: int) -> bytes | None:
        """Answer an IKE_SA_INIT request (§1.2); the response's bytes, or None if refused."""
        self.remote_port, self.local_port = src_port, dst_port
        sa, ke, nonce = m.get(SaPayload), m.get(KePayload), m.get(NoncePayload)
        if sa is None or ke is None or nonce is None:
            raise ParseError("IKE_SA_INIT request lacks SA, KE or nonce")
        chosen = proposals.select(sa.proposals, self.daemon.ike_proposals(self.conn))
        if chosen is None:
            log.warning("%s: no proposal chosen among %s", self, sa.proposals)
            return self._clear_response(m, [Notify(NO_PROPOSAL_CHOSEN)])
        suite = proposals.Suite.of(chosen)
        if ke.group != suite.dh:
            log.info("%s: KE of group %d, chosen group %d: INVALID_KE_PAYLOAD", self, ke.group, suite.dh)
            return self._clear_response(m, [Notify(INVALID_KE_PAYLOAD, data=struct.pack("!H", suite.dh))])
        g = GROUPS[suite.dh]
        private = g.generate()
        shared = g.shared(private, ke.data)
        self.spi_r, self.nonce_i, self.nonce_r = os.urandom(8), nonce.data, os.urandom(NONCE_LENGTH)
        self.suite, self.init_request, self.state = suite, m.raw, "auth"
        self.last_heard = self.now
        self.nat = self._detect_nat(Message(m.spi_i, bytes(8), 0, 0, 0, m.payloads))
        chosen.spi = b""
        payloads = [SaPayload([chosen]), KePayload(suite.dh, g.public(private)), NoncePayload(self.nonce_r)]
        payloads += self._nat_payloads(self.spi_r)
        self.init_response = encode(Message(self.spi_i, self.spi_r, IKE_SA_INIT, FLAG_RESPONSE, 0, payloads))
        self._derive(keys.skeyseed(self.nonce_i, self.nonce_r, shared))
        self.peer_id = 1
        self.last_response = (0, self.init_response)
        return self.init_response

    def _clear_response(self, m: Message, payloads: list) -> bytes:
        self.state = "dead"
        return encode(Message(m.spi_i, bytes(8), IKE_SA_INIT, FLAG_RESPONSE, 0, payloads))

    # -- IKE_AUTH ---------------------------------------------------------------------------------

    def _psk(self) -> bytes:
        return self.daemon.config.psk(self.conn.local_id, self.conn.remote_id)

    def _auth(self, initiator_side: bool, id_payload: Identification) -> bytes:
        """The AUTH value of one side (§2.15): the initiator signs its IKE_SA_INIT request and the
        responder's nonce, the responder its response and the initiator's nonce."""
        k = self.ike_keys
        if initiator_side:
            return keys.psk_auth(self._psk(), k.sk_pi, self.init_request, self.nonce_r, id_payload.body)
        return keys.psk_auth(self._psk(), k.sk_pr, self.init_response, self.nonce_i, id_payload.body)

    def _send_auth(self) -> None:
        config_child = next(iter(self.conn.children.values()))
        idi = identification(self.conn.local_id, True)
        spi = self.daemon.installer.allocate_spi()
        self.auth_child = (config_child, spi)
        esp = proposals.without_dh(self.daemon.esp_proposals(self.conn, config_child))
        payloads = [idi, identification(self.conn.remote_id, False), AuthPayload(AUTH_PSK, self._auth(True, idi)),
                    SaPayload(proposals.offer(esp, spi.to_bytes(4, "big"))),
                    TrafficSelectors(True, ts_of(config_child.local_ts)),
                    TrafficSelectors(False, ts_of(config_child.remote_ts))]
        self.request(IKE_AUTH, payloads, self._auth_response)

    def _auth_response(self, m: Message) -> None:
        config_child, spi = self.auth_child
        if m.notify(AUTHENTICATION_FAILED):
            log.warning("%s: the peer refused our authentication (AUTHENTICATION_FAILED)", self)
            self.daemon.installer.release_spi(spi)
            self.destroy()
            return
        idr, auth = m.get(Identification, initiator=False), m.get(AuthPayload)
        if (idr is None or auth is None or auth.method != AUTH_PSK
                or not keys.auth_matches(self._auth(False, idr), auth.data)):
            log.warning("%s: the responder's AUTH does not verify (wrong PSK or identity): deleting", self)
            self.daemon.installer.release_spi(spi)
            self.request(INFORMATIONAL, [Notify(AUTHENTICATION_FAILED)], lambda _: None)
            self.destroy()
            return
        self._established()
        errors = m.errors()
        sa = m.get(SaPayload)
        try:
            if errors or sa is None:
                raise ProtocolError(f"no Child SA: notify {[n.type for n in errors]}", NO_PROPOSAL_CHOSEN)
            child = self._child_from_response(m, config_child, spi, self.nonce_i, self.nonce_r, b"",
                                              proposals.without_dh(self.daemon.esp_proposals(self.conn, config_child)))
            self._install(child)
        except (ProtocolError, ParseError) as e:
            log.warning("%s: Child SA %s not established: %s", self, config_child.name, e)
            self.daemon.installer.release_spi(spi)
        for other in list(self.conn.children.values())[1:]:  # the connection's further Child SAs
            self.create_child(other)

    def _auth_request(self, m: Message) -> None:
        idi, auth = m.get(Identification, initiator=True), m.get(AuthPayload)
        if idi is None or auth is None:
            raise ProtocolError("IKE_AUTH request lacks IDi or AUTH", INVALID_SYNTAX)
        expected = identification(self.conn.remote_id, True)
        if (idi.id_type, idi.data) != (expected.id_type, expected.data) or auth.method != AUTH_PSK \
                or not keys.auth_matches(self._auth(True, idi), auth.data):
            raise ProtocolError(f"peer {id_text(idi)} failed authentication (wrong PSK or identity)",
                                AUTHENTICATION_FAILED)
        idr = identification(self.conn.local_id, False)
        payloads = [idr, AuthPayload(AUTH_PSK, self._auth(False, idr))]
        self._established()
        try:
            child_payloads, child = self._child_request(m, self.nonce_i, self.nonce_r, None)
            self._install(child)
        except ProtocolError as e:
            log.warning("%s: Child SA refused: %s", self, e)
            self._respond(m, payloads + [Notify(e.notify)])
            return
        self._respond(m, payloads + child_payloads)

    def _established(self) -> None:
        self.state = "established"
        self.last_heard = self.now
        if self.conn.rekey_time:
            self.rekey_at = self.now + self.conn.rekey_time - self.daemon.jitter(self.conn.rekey_time, 0)
        log.info("%s established between %s[%s]...%s[%s] (%s)%s", self, self.local_addr, self.conn.local_id,
                 self.remote_addr, self.conn.remote_id, self.suite.describe(),
                 ", NAT-T" if self.nat else "")

    # -- Child SAs --------------------------------------------------------------------------------

    def _make_child(self, config_child, spi_in: int, spi_out: int, suite, nonce_i, nonce_r, shared,
                    we_initiated: bool, local_ts, remote_ts) -> ChildSa:
        i_to_r, r_to_i = keys.child_keymat(suite, self.ike_keys.sk_d, nonce_i, nonce_r, shared)
        key_in, key_out = (r_to_i, i_to_r) if we_initiated else (i_to_r, r_to_i)
        now, rekey, life = self.now, config_child.rekey_time, config_child.life_time
        return ChildSa(config_child.name, self.daemon.child_number(), spi_in, spi_out, key_in, key_out, suite.esn,
                       suite, self.local_addr, self.remote_addr, local_ts, remote_ts,
                       (self.local_port, self.remote_port) if self.nat else None,
                       now + rekey - self.daemon.jitter(rekey, life) if rekey else 0.0,
                       now + config_child.life_time if config_child.life_time else 0.0,
                       config_child.rekey_bytes, config_child.life_bytes, config_child.rekey_packets,
                       config_child.life_packets)

    def _child_from_response(self, m: Message, config_child, spi_in: int, nonce_i: bytes, nonce_r: bytes,
                             shared: bytes, offered_esp) -> ChildSa:
        """The Child SA a response to our request describes, checked against what we offered."""
        sa, tsi, tsr = m.get(SaPayload), m.get(TrafficSelectors, initiator=True), m.get(TrafficSelectors,
                                                                                         initiator=False)
        if sa is None or len(sa.proposals) != 1 or tsi is None or tsr is None:
            raise ParseError("response lacks SA (one proposal), TSi or TSr")
        chosen = sa.proposals[0]
        if chosen.protocol != PROTO_ESP or len(chosen.spi) != 4 or not proposals.check_choice(
                chosen, proposals.offer(offered_esp, b"")):
            raise ParseError("the responder chose an ESP proposal we did not offer")
        if not within(tsi.selectors, ts_of(config_child.local_ts)) or not within(
                tsr.selectors, ts_of(config_child.remote_ts)):
            raise ParseError("the responder's traffic selectors are not within ours")
        suite = proposals.Suite.of(chosen)
        return self._make_child(config_child, spi_in, int.from_bytes(chosen.spi, "big"), suite, nonce_i,
                                nonce_r, shared, True, tsi.selectors, tsr.selectors)

    def _child_request(self, m: Message, nonce_i: bytes, nonce_r: bytes, ke: tuple | None) -> tuple[list, ChildSa]:
        """Payloads answering a request for a Child SA (IKE_AUTH, CREATE_CHILD_SA) and the Child SA.
        `ke`: (group, private key, peer's KE data) when the exchange carries one (PFS)."""
        sa, tsi, tsr = m.get(SaPayload), m.get(TrafficSelectors, initiator=True), m.get(TrafficSelectors,
                                                                                         initiator=False)
        if sa is None or tsi is None or tsr is None:
            raise ProtocolError("request lacks SA, TSi or TSr", INVALID_SYNTAX)
        config_child = self.conn_child(tsi.selectors, tsr.selectors)
        if config_child is None:
            raise ProtocolError("traffic selectors match no child of the connection", TS_UNACCEPTABLE)
        ours = self.daemon.esp_proposals(self.conn, config_child)
        if ke is None:
            ours = proposals.without_dh(ours)
        chosen = proposals.select([p for p in sa.proposals if len(p.spi) == 4], ours)
        if chosen is None:
            raise ProtocolError("no ESP proposal chosen", NO_PROPOSAL_CHOSEN)
        suite = proposals.Suite.of(chosen)
        shared = b""
        if ke is not None and suite.dh:
            if ke[0] != suite.dh:
                raise ProtocolError(f"KE group {ke[0]} is not the chosen {suite.dh}", INVALID_KE_PAYLOAD,
                                    struct.pack("!H", suite.dh))
            g = GROUPS[suite.dh]
            private = g.generate()
            shared = g.shared(private, ke[1])
            ke = KePayload(suite.dh, g.public(private))
        else:
            ke = None
        local_ts = narrow(tsr.selectors, ts_of(config_child.local_ts))
        remote_ts = narrow(tsi.selectors, ts_of(config_child.remote_ts))
        spi_in = self.daemon.installer.allocate_spi()
        child = self._make_child(config_child, spi_in, int.from_bytes(chosen.spi, "big"), suite, nonce_i, nonce_r,
                                 shared, False, local_ts, remote_ts)
        chosen.spi = spi_in.to_bytes(4, "big")
        payloads = [SaPayload([chosen])] + ([NoncePayload(nonce_r)] if nonce_r and m.exchange == CREATE_CHILD_SA
                                            else []) + ([ke] if ke else [])
        return payloads + [TrafficSelectors(True, remote_ts), TrafficSelectors(False, local_ts)], child

    def conn_child(self, tsi, tsr):
        """The configured child whose selectors the initiator's overlap (ours: remote = TSi, local = TSr)."""
        for c in self.conn.children.values():
            if narrow(tsi, ts_of(c.remote_ts)) and narrow(tsr, ts_of(c.local_ts)):
                return c
        return None

    def _install(self, child: ChildSa, replacing: ChildSa | None = None, outbound: bool = True) -> None:
        """Program `child` (inbound, and outbound unless it waits); ProtocolError(TEMPORARY_FAILURE)
        if the appliance refuses it (table full, an SPI without a slot, a bus error): what was
        programmed of it is removed again."""
        inst = self.daemon.installer
        try:
            inst.install_inbound(child)
            if outbound:
                inst.install_outbound(child, replacing)
                child.outbound = True
        except INSTALL_ERRORS as e:
            log.warning("%s: the appliance refused %s: %s", self, child.describe(), e)
            inst.release_spi(child.spi_in)
            try:
                inst.remove_outbound(child)
                inst.remove_inbound(child)
            except INSTALL_ERRORS:
                pass
            raise ProtocolError(f"the appliance refused the Child SA: {e}", TEMPORARY_FAILURE) from None
        self.children.append(child)
        log.info("%s: %s established, TS %s === %s", self, child.describe(), ts_text(child.local_ts),
                 ts_text(child.remote_ts))

    def _remove(self, child: ChildSa) -> None:
        inst = self.daemon.installer
        if child.outbound:
            inst.remove_outbound(child)
        inst.remove_inbound(child)
        if child in self.children:
            self.children.remove(child)

    # -- CREATE_CHILD_SA: rekeying a Child SA -----------------------------------------------------

    def rekey_child(self, child: ChildSa, group: int | None = None) -> None:
        """Rekey `child` (§1.3.3): a new Child SA for the same selectors, REKEY_SA naming the old;
        the new one installed, outbound traffic switched to it, then the old one deleted."""
        child.rekeying = True
        log.info("%s: rekeying %s", self, child.describe())

        def done(new: ChildSa | None, error: Exception | None) -> None:
            child.rekeying = False
            if error is not None:
                delay = self.daemon.rng.uniform(2, 20)  # apart from the peer's retry after a collision (§2.25)
                log.warning("%s: rekeying %s failed: %s; retrying in %.0f s", self, child.describe(), error, delay)
                child.rekey_at = self.now + delay
                if getattr(error, "notify", None) == CHILD_SA_NOT_FOUND:
                    self._remove(child)
                return
            child.outbound = False  # the installer deleted its outbound SA with the switch
            child.replaced_by = new
            self.delete_child(child)
        self._create_child(self.conn.children[child.name], done, child, group)

    def create_child(self, config_child) -> None:
        """A further Child SA of the connection (§1.3.1): CREATE_CHILD_SA without REKEY_SA."""
        def done(new: ChildSa | None, error: Exception | None) -> None:
            if error is not None:
                log.warning("%s: Child SA %s not established: %s", self, config_child.name, error)
        self._create_child(config_child, done)

    def _create_child(self, config_child, done, old: ChildSa | None = None, group: int | None = None) -> None:
        """The initiator's CREATE_CHILD_SA for a Child SA of `config_child` (rekeying `old` if
        given): with PFS the KE of our first group, or of `group`, and once more with the group
        an INVALID_KE_PAYLOAD asks for (§1.3). `done(new, error)` when it ends: the new Child SA
        installed (replacing `old`'s outbound SA), or the error."""
        spi = self.daemon.installer.allocate_spi()
        nonce = os.urandom(NONCE_LENGTH)
        esp = self.daemon.esp_proposals(self.conn, config_child)
        groups = [t.id for p in esp for t in p.of_type(DH)]
        group = group if group in groups else (groups[0] if groups else None)
        payloads = [Notify(REKEY_SA, PROTO_ESP, old.spi_in.to_bytes(4, "big"))] if old else []
        payloads += [SaPayload(proposals.offer(esp, spi.to_bytes(4, "big"), group)), NoncePayload(nonce)]
        dh = None
        if group:
            g = GROUPS[group]
            dh = (g, g.generate())
            payloads.append(KePayload(group, g.public(dh[1])))
        local_ts = old.local_ts if old else ts_of(config_child.local_ts)
        remote_ts = old.remote_ts if old else ts_of(config_child.remote_ts)
        payloads += [TrafficSelectors(True, local_ts), TrafficSelectors(False, remote_ts)]

        def response(m: Message):
            if old is not None and old not in self.children:  # deleted meanwhile
                self.daemon.installer.release_spi(spi)
                old.rekeying = False
                return
            try:
                invalid_ke = m.notify(INVALID_KE_PAYLOAD)
                if invalid_ke is not None and len(invalid_ke.data) == 2 and dh is not None:
                    asked = int.from_bytes(invalid_ke.data, "big")
                    if asked in groups and asked != dh[0].number:
                        log.info("%s: peer asks for DH group %d (INVALID_KE_PAYLOAD): retrying", self, asked)
                        self.daemon.installer.release_spi(spi)
                        self._create_child(config_child, done, old, asked)
                        return
                if m.errors():
                    raise ProtocolError(f"notify {[n.type for n in m.errors()]}", m.errors()[0].type)
                nonce_r, ke = m.get(NoncePayload), m.get(KePayload)
                if nonce_r is None:
                    raise ParseError("CREATE_CHILD_SA response lacks a nonce")
                shared = b""
                if dh is not None:
                    if ke is None or ke.group != dh[0].number:
                        raise ParseError("CREATE_CHILD_SA response lacks the KE of our group")
                    shared = dh[0].shared(dh[1], ke.data)
                new = self._child_from_response(m, config_child, spi, nonce, nonce_r.data, shared, esp)
                self._install(new, replacing=old)
            except (ProtocolError, ParseError, CryptoError) as e:
                self.daemon.installer.release_spi(spi)
                done(None, e)
                return
            done(new, None)
        self.request(CREATE_CHILD_SA, payloads, response)

    def _create_child_request(self, m: Message) -> None:
        rekey, sa, nonce = m.notify(REKEY_SA), m.get(SaPayload), m.get(NoncePayload)
        if sa is None or nonce is None:
            raise ProtocolError("CREATE_CHILD_SA request lacks SA or nonce", INVALID_SYNTAX)
        ke = m.get(KePayload)
        if rekey is None and sa.proposals and sa.proposals[0].protocol == PROTO_IKE:
            self._rekey_ike_request(m, sa, nonce, ke)
            return
        nonce_r = os.urandom(NONCE_LENGTH)
        if rekey is None:  # a further Child SA (§1.3.1)
            payloads, new = self._child_request(m, nonce.data, nonce_r, (ke.group, ke.data) if ke else None)
            self._install(new)
            self._respond(m, payloads)
            return
        old = next((c for c in self.children if c.spi_out.to_bytes(4, "big") == rekey.spi), None)
        if old is None or old.replaced_by is not None:
            self._respond(m, [Notify(CHILD_SA_NOT_FOUND, PROTO_ESP, rekey.spi)])
            return
        if old.rekeying or old.deleting:  # a collision: the peer retries after ours (§2.25, §2.25.1)
            self._respond(m, [Notify(TEMPORARY_FAILURE)])
            return
        payloads, new = self._child_request(m, nonce.data, nonce_r, (ke.group, ke.data) if ke else None)
        new.name = old.name
        self._install(new, outbound=False)  # outbound once the initiator deletes the old SA
        old.replaced_by = new
        self._respond(m, payloads)

    # -- CREATE_CHILD_SA: rekeying the IKE SA ----------------------------------------------------

    def rekey_ike(self) -> None:
        """Rekey this IKE SA (§1.3.2, §2.18): a new IKE SA takes over the Child SAs, the old is deleted."""
        ours = self.daemon.ike_proposals(self.conn)
        group = self.suite.dh
        g = GROUPS[group]
        private = g.generate()
        new_spi, nonce = os.urandom(8), os.urandom(NONCE_LENGTH)
        payloads = [SaPayload(proposals.offer(ours, new_spi, group)), NoncePayload(nonce),
                    KePayload(group, g.public(private))]
        log.info("%s: rekeying the IKE SA", self)
        self.rekeying_ike = True

        def response(m: Message):
            self.rekeying_ike = False
            try:
                if m.errors():
                    raise ProtocolError(f"notify {[n.type for n in m.errors()]}", m.errors()[0].type)
                sa, nonce_r, ke = m.get(SaPayload), m.get(NoncePayload), m.get(KePayload)
                if sa is None or nonce_r is None or ke is None or len(sa.proposals) != 1 \
                        or len(sa.proposals[0].spi) != 8:
                    raise ParseError("IKE rekey response lacks SA (one IKE proposal), nonce or KE")
                if not proposals.check_choice(sa.proposals[0], proposals.offer(ours, new_spi, group)) \
                        or ke.group != group:
                    raise ParseError("the responder chose an IKE proposal or group we did not offer")
                shared = g.shared(private, ke.data)
            except (ProtocolError, ParseError, CryptoError) as e:
                delay = self.daemon.rng.uniform(2, 20)
                log.warning("%s: IKE rekey failed: %s; retrying in %.0f s", self, e, delay)
                self.rekey_at = self.now + delay
                return
            self._take_over(True, new_spi, sa.proposals[0].spi, nonce, nonce_r.data, shared,
                            proposals.Suite.of(sa.proposals[0]))
            self.state = "deleting"
            log.info("%s: sending DELETE for the IKE SA", self)
            self.request(INFORMATIONAL, [DeletePayload(PROTO_IKE, [])], lambda _: self.destroy(keep_children=True))
        self.request(CREATE_CHILD_SA, payloads, response)

    def _rekey_ike_request(self, m: Message, sa: SaPayload, nonce: NoncePayload, ke: KePayload | None) -> None:
        if self.rekeying_ike:  # a collision: the peer retries after ours (§2.25)
            self._respond(m, [Notify(TEMPORARY_FAILURE)])
            return
        chosen = proposals.select([p for p in sa.proposals if len(p.spi) == 8], self.daemon.ike_proposals(self.conn))
        if chosen is None:
            raise ProtocolError("no IKE proposal chosen for the rekey", NO_PROPOSAL_CHOSEN)
        suite = proposals.Suite.of(chosen)
        if ke is None or ke.group != suite.dh:
            raise ProtocolError("IKE rekey KE is not of the chosen group", INVALID_KE_PAYLOAD,
                                struct.pack("!H", suite.dh))
        g = GROUPS[suite.dh]
        private = g.generate()
        shared = g.shared(private, ke.data)
        new_spi, nonce_r = os.urandom(8), os.urandom(NONCE_LENGTH)
        spi_i = chosen.spi
        chosen.spi = new_spi
        self._respond(m, [SaPayload([chosen]), NoncePayload(nonce_r), KePayload(suite.dh, g.public(private))])
        self._take_over(False, spi_i, new_spi, nonce.data, nonce_r, shared, suite)

    def _take_over(self, we_initiated: bool, spi_i: bytes, spi_r: bytes, nonce_i: bytes, nonce_r: bytes,
                   shared: bytes, suite) -> "IkeSa":
        """The new IKE SA of a rekey (§2.18): keys from the old SK_d, the Child SAs moved to it."""
        new = IkeSa(self.daemon, self.conn, we_initiated, spi_i, spi_r,
                    number=self.daemon.ike_number(), state="established", remote_port=self.remote_port,
                    local_port=self.local_port, nat=self.nat, suite=suite, nonce_i=nonce_i, nonce_r=nonce_r)
        new._derive(keys.rekeyed_skeyseed(self.ike_keys.sk_d, shared, nonce_i, nonce_r))
        new.children, self.children = self.children, []
        new._established()
        self.daemon.register(new)
        log.info("%s rekeyed as %s", self, new)
        return new

    # -- INFORMATIONAL ----------------------------------------------------------------------------

    def _informational_request(self, m: Message) -> None:
        if m.notify(AUTHENTICATION_FAILED):
            log.warning("%s: the peer refused our authentication (AUTHENTICATION_FAILED)", self)
            self._respond(m, [])
            self.destroy()
            return
        deletes = [p for p in m.payloads if isinstance(p, DeletePayload)]
        if any(d.protocol == PROTO_IKE for d in deletes):
            log.info("%s: received DELETE for the IKE SA", self)
            self._respond(m, [])
            self.destroy()  # after a rekey its Child SAs belong to the new IKE SA
            return
        ours = []
        for d in deletes:
            for spi in d.spis:
                child = next((c for c in self.children if c.spi_out.to_bytes(4, "big") == spi), None)
                if child is None:
                    continue
                ours.append(child.spi_in.to_bytes(4, "big"))
                log.info("%s: received DELETE for ESP CHILD_SA with SPI %08x", self, child.spi_out)
                self._switch_outbound(child)  # the peer finished its rekey
                log.info("%s: %s deleted by the peer", self, child.describe())
                self._remove(child)
        self._respond(m, [DeletePayload(PROTO_ESP, ours)] if ours else [])

    def _switch_outbound(self, old: ChildSa) -> None:
        """Outbound traffic from `old` to the Child SA that rekeyed it, if that waits for it."""
        new = old.replaced_by
        if new is None or new.outbound:
            return
        try:
            self.daemon.installer.install_outbound(new, replacing=old)
            new.outbound, old.outbound = True, False
        except INSTALL_ERRORS as e:
            log.warning("%s: the appliance refused the outbound SA of %s: %s", self, new.describe(), e)

    def delete_child(self, child: ChildSa) -> None:
        """Delete `child` (§1.4.1): DELETE for its inbound SPI; its SAs go when the peer answers
        (traffic moved first to the Child SA that rekeyed it, if that still waits for the switch)."""
        def response(m: Message):
            log.info("%s: %s deleted", self, child.describe())
            self._switch_outbound(child)
            self._remove(child)
        child.deleting = True
        log.info("%s: sending DELETE for ESP CHILD_SA with SPI %08x", self, child.spi_in)
        self.request(INFORMATIONAL, [DeletePayload(PROTO_ESP, [child.spi_in.to_bytes(4, "big")])], response)

    def delete(self) -> None:
        """Delete the IKE SA and its Child SAs (§1.4.1)."""
        if self.state != "established":
            self.destroy()
            return
        self.state = "deleting"
        log.info("%s: sending DELETE for the IKE SA", self)
        self.request(INFORMATIONAL, [DeletePayload(PROTO_IKE, [])], lambda _: self.destroy())

    def _dpd_response(self, m: Message) -> None:
        log.debug("%s: peer alive", self)

    def destroy(self, keep_children: bool = False) -> None:
        """Forget the IKE SA: its Child SAs leave the appliance (unless a rekey took them over)."""
        if not keep_children:
            for child in list(self.children):
                self._remove(child)
        self.state, self.pending, self.queue = "dead", None, []
        self.daemon.unregister(self)
        log.info("%s deleted", self)

