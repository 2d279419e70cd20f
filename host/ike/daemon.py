"""`espline ike`: the IKEv2 daemon (RFC 7296) on the appliance's host port.

It takes the punted IKE frames from a `FrameLink`, finds the IKE SA each message belongs to
by its SPIs (§2.6) or starts a responder's for an IKE_SA_INIT request, and sends its own
frames back through the link; Child SAs go into the appliance through an installer
(`espline.host.ike.installer.DriverInstaller`). The clock is a function (monotonic seconds),
so tests run two daemons in one process on a clock of their own.
"""

import hashlib
import hmac
import ipaddress
import logging
import os
import random
import time

from espline.config.ike import Connection, IkeConfig

from . import proposals
from .crypto import CryptoError
from .frames import BROADCAST, Datagram, build_frame, mac_bytes, parse_frame
from .message import (
    COOKIE,
    FLAG_RESPONSE,
    IKE_SA_INIT,
    PROTO_ESP,
    PROTO_IKE,
    Message,
    NoncePayload,
    Notify,
    ParseError,
    decode,
    encode,
)
from .sa import IkeSa, ProtocolError

log = logging.getLogger("espline.ike")
SOFT_EVENT_SPREAD = 2.0  # seconds over which a soft-lifetime event's rekey is spread


class ConfigurationError(ValueError):
    """A connection's proposals the daemon cannot use."""


class Daemon:
    def __init__(self, config: IkeConfig, link, installer, clock=time.monotonic, rng: random.Random | None = None):
        self.config, self.link, self.installer, self.clock = config, link, installer, clock
        self.rng = rng or random.SystemRandom()
        self.retransmit_timeout = config.retransmit_timeout
        self.retransmit_base = config.retransmit_base
        self.retransmit_tries = config.retransmit_tries
        self.sas: dict[bytes, IkeSa] = {}  # by our SPI
        self.half_open: dict[tuple[bytes, str], IkeSa] = {}  # responder's, by (SPIi, peer address)
        self.peer_macs: dict[str, bytes] = {}
        self._ike_numbers = self._child_numbers = 0
        self._ident = int.from_bytes(os.urandom(2), "big")
        self._cookie_secret = os.urandom(32)
        self._ike, self._esp = {}, {}
        for conn in config.connections.values():  # every proposal string checked before anything runs
            try:
                self._ike[conn.name] = proposals.parse_list(
                    [proposals.DEFAULT_IKE if p == "default" else p for p in conn.proposals], PROTO_IKE)
                for child in conn.children.values():
                    self._esp[conn.name, child.name] = proposals.parse_list(
                        [proposals.DEFAULT_ESP if p == "default" else p for p in child.esp_proposals],
                        PROTO_ESP)
            except proposals.ProposalError as e:
                raise ConfigurationError(f"ike.connections.{conn.name}: {e}") from None

    # -- what the IKE SAs ask of the daemon ---------------------------------------------------

    def ike_proposals(self, conn: Connection):
        return self._ike[conn.name]

    def esp_proposals(self, conn: Connection, child):
        return self._esp[conn.name, child.name]

    def jitter(self, rekey: float, life: float) -> float:
        """How much earlier than `rekey` seconds to rekey: random, up to a tenth of it (and before
        `life`), so that two peers' timers rarely fire together (strongSwan's rand_time)."""
        span = rekey / 10 if not life else min(rekey / 10, life - rekey)
        return self.rng.uniform(0, span)

    def ike_number(self) -> int:
        self._ike_numbers += 1
        return self._ike_numbers

    def child_number(self) -> int:
        self._child_numbers += 1
        return self._child_numbers

    def register(self, sa: IkeSa) -> None:
        self.sas[sa.local_spi] = sa

    def unregister(self, sa: IkeSa) -> None:
        if self.sas.get(sa.local_spi) is sa:
            del self.sas[sa.local_spi]
        for key, s in list(self.half_open.items()):
            if s is sa:
                del self.half_open[key]

    def log_keys(self, sa: IkeSa) -> None:
        """A fingerprint of the derived keys (the first 4 bytes of SHA-256 of SK_d): equal on both peers."""
        log.debug("%s: SPIs %s_i %s_r, SK_d fingerprint %s", sa, sa.spi_i.hex(), sa.spi_r.hex(),
                  hashlib.sha256(sa.ike_keys.sk_d).hexdigest()[:8])

    def transmit(self, sa: IkeSa, data: bytes) -> None:
        self.send(Datagram(sa.local_addr, sa.remote_addr, sa.local_port, sa.remote_port, data), sa.conn)

    def send(self, d: Datagram, conn: Connection | None) -> None:
        mac = self.peer_macs.get(d.dst) or (mac_bytes(conn.remote_mac) if conn and conn.remote_mac else BROADCAST)
        self._ident += 1
        self.link.send(build_frame(d, mac_bytes(self.config.local_mac), mac, self._ident))

    # -- control ----------------------------------------------------------------------------------

    def initiate(self, name: str) -> IkeSa:
        """Start connection `name` as initiator."""
        conn = self.config.connections[name]
        sa = IkeSa(self, conn, True, os.urandom(8), number=self.ike_number(), local_port=conn.local_port,
                   remote_port=conn.remote_port)
        self.register(sa)
        sa.initiate()
        return sa

    def start(self) -> None:
        """Initiate every connection with a child of start_action "start"."""
        for conn in self.config.connections.values():
            if any(c.start_action == "start" for c in conn.children.values()):
                self.initiate(conn.name)

    def find(self, name: str) -> list[IkeSa]:
        return [sa for sa in self.sas.values() if sa.conn.name == name and sa.state != "dead"]

    def close(self) -> None:
        """Delete every IKE SA (and its Child SAs), as on shutdown."""
        for sa in list(self.sas.values()):
            sa.delete()

    # -- frames in ---------------------------------------------------------------------------------

    def receive(self, frame: bytes) -> None:
        """One punted frame; a bad one is logged and dropped, never raised."""
        try:
            d = parse_frame(frame)
            self.peer_macs[d.src] = d.src_mac
            m = decode(d.payload)
            self._dispatch(m, d)
        except (ParseError, CryptoError, ProtocolError) as e:
            log.warning("dropped a frame: %s", e)
        except Exception:  # a daemon outlives a bug in one exchange: logged with its traceback
            log.exception("internal error on a frame (dropped)")

    def _dispatch(self, m, d: Datagram) -> None:
        if m.exchange == IKE_SA_INIT and not m.is_response:
            self._init_request(m, d)
            return
        sa = self.sas.get(m.spi_r if m.from_initiator else m.spi_i)
        if sa is None:
            log.info("%s from %s for an unknown IKE SA %s_i %s_r: dropped", m.name, d.src, m.spi_i.hex(),
                     m.spi_r.hex())
            return
        if d.src != sa.remote_addr or d.dst != sa.local_addr:
            log.warning("%s: %s from %s to %s, not the IKE SA's addresses: dropped", sa, m.name, d.src, d.dst)
            return
        sa.handle(m, d.src, d.sport, d.dport)

    def _init_request(self, m, d: Datagram) -> None:
        known = self.half_open.get((m.spi_i, d.src))
        if known is not None:
            if known.init_response and m.raw == known.init_request:
                log.info("%s: retransmitted IKE_SA_INIT request: response sent again", known)
                self.send(Datagram(d.dst, d.src, d.dport, d.sport, known.init_response), known.conn)
            return
        if m.spi_r != bytes(8) or m.message_id != 0:
            raise ParseError("IKE_SA_INIT request with a responder SPI or a message ID other than 0", None)
        conn = next((c for c in self.config.connections.values()
                     if c.remote_addr == d.src and c.local_addr == d.dst), None)
        if conn is None:
            log.warning("IKE_SA_INIT from %s to %s matches no connection: dropped", d.src, d.dst)
            return
        if len(self.half_open_sas()) >= self.config.cookie_threshold and not self._cookie_ok(m, d.src):
            log.info("IKE_SA_INIT from %s: %d half-open IKE SAs, answered with a COOKIE (§2.6)", d.src,
                     len(self.half_open_sas()))
            cookie = Notify(COOKIE, data=self._cookie(m, d.src))
            self.send(Datagram(d.dst, d.src, d.dport, d.sport,
                               encode(Message(m.spi_i, bytes(8), IKE_SA_INIT, FLAG_RESPONSE, 0, [cookie]))), conn)
            return
        sa = IkeSa(self, conn, False, m.spi_i, number=self.ike_number())
        response = sa.respond_init(m, d.sport, d.dport)
        self.send(Datagram(d.dst, d.src, d.dport, d.sport, response), conn)
        if sa.state == "dead":
            return
        self.half_open[m.spi_i, d.src] = sa
        self.register(sa)

    def half_open_sas(self) -> list[IkeSa]:
        return [sa for sa in self.half_open.values() if sa.state == "auth"]

    def _cookie(self, m, address: str) -> bytes:
        """Cookie = <secret version> | Hash(Ni | IPi | SPIi | <secret>) (§2.6); one secret per daemon run."""
        nonce = m.get(NoncePayload)
        data = (nonce.data if nonce else b"") + ipaddress.IPv4Address(address).packed + m.spi_i
        return b"\0\0\0\1" + hmac.new(self._cookie_secret, data, hashlib.sha256).digest()

    def _cookie_ok(self, m, address: str) -> bool:
        got = m.notify(COOKIE)
        return got is not None and hmac.compare_digest(got.data, self._cookie(m, address))

    # -- time ----------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Retransmissions, rekeys, lifetimes and liveness checks that are due; the appliance's
        lifetime events (a soft limit rekeys the Child SA, a hard one deletes it)."""
        now = self.clock()
        try:
            for sa in list(self.sas.values()):
                if sa.state != "dead":
                    sa.tick(now)
            for kind, direction, spi in self.installer.events():
                self._lifetime_event(kind, direction, spi)
        except Exception:  # as in `receive`
            log.exception("internal error in the timers")

    def _lifetime_event(self, kind: str, direction: str, spi: int) -> None:
        for sa in list(self.sas.values()):
            for child in list(sa.children):
                if (child.spi_in if direction == "in" else child.spi_out) != spi:
                    continue
                log.info("%s: %s: %s event from the appliance", sa, child.describe(), kind)
                if kind == "soft-lifetime" and not (child.rekeying or child.deleting) and child.replaced_by is None:
                    # within SOFT_EVENT_SPREAD s: both peers see the same traffic cross their limits
                    # together, and two rekeys at once would only collide (§2.25)
                    soon = self.clock() + self.rng.uniform(0, SOFT_EVENT_SPREAD)
                    child.rekey_at = min(child.rekey_at, soon) if child.rekey_at else soon
                elif kind in ("hard-lifetime", "seq-exhausted") and not child.deleting:
                    sa.delete_child(child)
                return

    def next_due(self) -> float | None:
        times = [t for sa in self.sas.values() if (t := sa.next_due()) is not None]
        return min(times) if times else None

    def run(self, stop=lambda: False, poll: float = 0.5, control=None) -> None:
        """Serve frames and timers until `stop()` (the appliance's events polled every `poll` s,
        the control socket, if any, every 0.1 s)."""
        self.start()
        if control is not None:
            poll = min(poll, 0.1)
        while not stop():
            due = self.next_due()
            timeout = poll if due is None else min(poll, max(0.0, due - self.clock()))
            frame = self.link.receive(timeout)
            if frame is not None:
                self.receive(frame)
            if control is not None:
                control.poll()
            self.tick()
