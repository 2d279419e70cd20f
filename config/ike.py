"""The `[ike]` table of the configuration (docs/ike.md): IKEv2 connections for `espline ike`, in
swanctl.conf's vocabulary. Each field is checked here, every error naming the connection,
child or secret and the field (`ike.connections.site-b children.net remote_ts: ...`); the
proposal strings are checked by the daemon, which knows the algorithms
(`espline.host.ike.proposals`).

    [ike]                                    # daemon settings, all optional
    local_mac = "02:00:00:00:00:01"          # source MAC of the daemon's frames
    retransmit_timeout = 4.0                 # seconds; then x retransmit_base, retransmit_tries times
    retransmit_base = 1.8
    retransmit_tries = 5
    cookie_threshold = 10                    # half-open IKE SAs from which a cookie is asked (anti-DoS)

    [ike.connections.site-b]
    local_addrs = ["192.0.2.1"]
    remote_addrs = ["198.51.100.2"]
    remote_mac = "..."                       # the peer's (next hop's) MAC; else learnt, broadcast until then
    proposals = ["aes128gcm16-prfsha256-curve25519"]
    rekey_time = "4h"                        # IKE SA rekey; 0: never
    dpd_delay = "30s"                        # liveness check when nothing came for this long; 0: none
    encap = false                            # force UDP encapsulation (fake a NAT, as swanctl's encap)
    local = { id = "site-a.example", auth = "psk" }
    remote = { id = "site-b.example", auth = "psk" }
    [ike.connections.site-b.children.net]
    local_ts = ["10.1.0.0/16"]               # CIDR, address or "dynamic", optionally [proto] or [proto/port]
    remote_ts = ["10.2.0.0/16"]
    esp_proposals = ["aes128gcm16-esn"]
    rekey_time = "1h"
    life_time = "66m"                        # default: rekey_time x 1.1
    rekey_bytes = 0                          # soft byte/packet limits of the appliance's SA: rekey events
    life_bytes = 0
    rekey_packets = 0
    life_packets = 0
    start_action = "none"                    # none | start (initiate when the daemon starts)
    mode = "tunnel"

    [ike.secrets.ike-site-b]
    id = ["site-a.example", "site-b.example"]
    secret = "0x..." | "0s<base64>" | "text"
"""

import base64
import ipaddress
import re
from dataclasses import dataclass, field

from .policy import PROTOCOL_NAMES
from .validation import ConfigError, check_fields

DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd]?)$")
UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
DAEMON_FIELDS = {"local_mac", "retransmit_timeout", "retransmit_base", "retransmit_tries", "cookie_threshold",
                 "connections", "secrets"}
CONNECTION_FIELDS = {"local_addrs", "remote_addrs", "remote_mac", "local_port", "remote_port", "proposals",
                     "rekey_time", "dpd_delay", "encap", "local", "remote", "children", "version"}
CHILD_FIELDS = {"local_ts", "remote_ts", "esp_proposals", "rekey_time", "life_time", "rekey_bytes", "life_bytes",
                "rekey_packets", "life_packets", "start_action", "mode"}
AUTH_FIELDS = {"id", "auth"}
SECRET_FIELDS = {"id", "secret"}


@dataclass(frozen=True)
class TrafficSelector:
    """An IPv4 prefix, an IP protocol (None: any) and a port range, as local_ts/remote_ts name them."""
    prefix: str
    protocol: int | None = None
    ports: tuple[int, int] = (0, 65535)


@dataclass
class Child:
    name: str
    local_ts: list[TrafficSelector]
    remote_ts: list[TrafficSelector]
    esp_proposals: list[str]
    rekey_time: float = 3600.0
    life_time: float = 3960.0
    rekey_bytes: int = 0
    life_bytes: int = 0
    rekey_packets: int = 0
    life_packets: int = 0
    start_action: str = "none"
    mode: str = "tunnel"


@dataclass
class Connection:
    name: str
    local_addr: str
    remote_addr: str
    local_id: str
    remote_id: str
    proposals: list[str]
    children: dict[str, Child]
    remote_mac: str | None = None
    local_port: int = 500
    remote_port: int = 500
    rekey_time: float = 14400.0
    dpd_delay: float = 0.0
    encap: bool = False


@dataclass
class Secret:
    name: str
    ids: list[str]
    secret: bytes


@dataclass
class IkeConfig:
    connections: dict[str, Connection] = field(default_factory=dict)
    secrets: list[Secret] = field(default_factory=list)
    local_mac: str = "02:00:00:00:00:01"
    retransmit_timeout: float = 4.0
    retransmit_base: float = 1.8
    retransmit_tries: int = 5
    cookie_threshold: int = 10  # half-open IKE SAs from which IKE_SA_INIT needs a cookie (RFC 7296 §2.6)

    def psk(self, local_id: str, remote_id: str) -> bytes | None:
        """The shared secret for these identities (swanctl's rule: the secret naming the most
        of them wins; one naming none matches any pair)."""
        best, score = None, -1
        for s in self.secrets:
            if s.ids and not set(s.ids) & {local_id, remote_id}:
                continue
            n = len(set(s.ids) & {local_id, remote_id})
            if n > score:
                best, score = s.secret, n
        return best



def duration(value, where: str) -> float:
    """Seconds from a number or swanctl's "30s", "5m", "4h", "1d"."""
    if isinstance(value, bool):
        raise ConfigError(f"{where}: expected a duration, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = DURATION.match(str(value).strip().lower())
        if not m:
            raise ConfigError(f"{where}: {value!r} is not a duration (a number of seconds, or 30s, 5m, 4h, 1d)")
        seconds = float(m.group(1)) * UNITS[m.group(2)]
    if seconds < 0:
        raise ConfigError(f"{where}: {value!r} is negative")
    return seconds


def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: expected a count of at least 0, got {value!r}")
    return value


def _words(value, where: str) -> list[str]:
    """A list, or swanctl's comma-separated string."""
    if isinstance(value, str):
        value = [w.strip() for w in value.split(",") if w.strip()]
    if not isinstance(value, list) or not value or not all(isinstance(w, str) for w in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return value


def _address(value, where: str) -> str:
    words = _words(value, where)
    if len(words) != 1:
        raise ConfigError(f"{where}: one IPv4 address (this daemon speaks from and to one), got {words}")
    try:
        return str(ipaddress.IPv4Address(words[0]))
    except ValueError:
        raise ConfigError(f"{where}: {words[0]!r} is not an IPv4 address") from None


def _mac(value, where: str) -> str:
    if not isinstance(value, str) or not MAC.match(value.lower()):
        raise ConfigError(f"{where}: {value!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
    return value.lower()


def selector(text: str, dynamic: str, where: str) -> TrafficSelector:
    """`10.1.0.0/16`, `10.1.0.1`, `dynamic` (the connection's own address), each optionally
    followed by `[proto]` or `[proto/port]` (swanctl.conf's local_ts syntax)."""
    m = re.match(r"^([^\[\]]+)(?:\[([^/\]]*)(?:/(\d+))?\])?$", text.strip())
    if not m:
        raise ConfigError(f"{where}: {text!r} is not 'PREFIX[PROTO/PORT]'")
    net, proto, port = m.groups()
    try:
        prefix = str(ipaddress.IPv4Network(dynamic if net == "dynamic" else net))
    except ValueError as e:
        raise ConfigError(f"{where}: {e}") from None
    protocol = None
    if proto:
        if proto.lower() in PROTOCOL_NAMES:
            protocol = PROTOCOL_NAMES[proto.lower()]
        elif proto.isdigit() and int(proto) <= 255:
            protocol = int(proto)
        else:
            raise ConfigError(f"{where}: {proto!r} is not a protocol (tcp, udp, icmp, a number)")
    if port is not None and (protocol is None or not 0 <= int(port) <= 65535):
        raise ConfigError(f"{where}: a port needs a protocol and is 0..65535 ({text!r})")
    return TrafficSelector(prefix, protocol, (int(port), int(port)) if port else (0, 65535))


def _child(name: str, entry: dict, conn: dict, where: str) -> Child:
    check_fields(entry, CHILD_FIELDS, where)
    for f in ("local_ts", "remote_ts"):
        if f not in entry:
            raise ConfigError(f"{where}: missing field {f!r}")
    local = _address(conn["local_addrs"], "local_addrs")
    remote = _address(conn["remote_addrs"], "remote_addrs")
    rekey = duration(entry.get("rekey_time", 3600), f"{where} rekey_time")
    life = duration(entry["life_time"], f"{where} life_time") if "life_time" in entry else rekey * 1.1
    if rekey and life and life <= rekey:
        raise ConfigError(f"{where} life_time: {life:g} s is not above rekey_time ({rekey:g} s)")
    counts = {f: _count(entry.get(f, 0), f"{where} {f}")
              for f in ("rekey_bytes", "life_bytes", "rekey_packets", "life_packets")}
    for kind in ("bytes", "packets"):
        soft, hard = counts[f"rekey_{kind}"], counts[f"life_{kind}"]
        if soft and hard and soft >= hard:
            raise ConfigError(f"{where} rekey_{kind}: {soft} is not below life_{kind} ({hard})")
    if entry.get("start_action", "none") not in ("none", "start"):
        raise ConfigError(f"{where} start_action: {entry['start_action']!r} is not 'none' or 'start'")
    if entry.get("mode", "tunnel") != "tunnel":
        raise ConfigError(f"{where} mode: {entry['mode']!r}: only 'tunnel' is negotiated")
    return Child(
        name,
        [selector(t, local + "/32", f"{where} local_ts") for t in _words(entry["local_ts"], f"{where} local_ts")],
        [selector(t, remote + "/32", f"{where} remote_ts") for t in _words(entry["remote_ts"], f"{where} remote_ts")],
        _words(entry.get("esp_proposals", ["default"]), f"{where} esp_proposals"),
        rekey, life, **counts, start_action=entry.get("start_action", "none"))


def _connection(name: str, entry: dict) -> Connection:
    where = f"ike.connections.{name}"
    check_fields(entry, CONNECTION_FIELDS, where)
    for f in ("local_addrs", "remote_addrs", "local", "remote", "children"):
        if f not in entry:
            raise ConfigError(f"{where}: missing field {f!r}")
    if entry.get("version", 2) != 2:
        raise ConfigError(f"{where} version: only IKEv2 (2)")
    ids = {}
    for side in ("local", "remote"):
        check_fields(entry[side], AUTH_FIELDS, f"{where} {side}")
        if entry[side].get("auth", "psk") != "psk":
            raise ConfigError(f"{where} {side} auth: {entry[side]['auth']!r}: only 'psk'")
        addr = _address(entry[f"{side}_addrs"], f"{where} {side}_addrs")
        ids[side] = str(entry[side].get("id", addr))
    children = entry["children"]
    if not isinstance(children, dict) or not children:
        raise ConfigError(f"{where} children: at least one child")
    ports = {}
    for f in ("local_port", "remote_port"):
        ports[f] = _count(entry.get(f, 500), f"{where} {f}")
        if not 1 <= ports[f] <= 65535:
            raise ConfigError(f"{where} {f}: {ports[f]} is not 1..65535")
    encap = entry.get("encap", False)
    if not isinstance(encap, bool):
        raise ConfigError(f"{where} encap: expected true or false")
    return Connection(
        name, _address(entry["local_addrs"], f"{where} local_addrs"),
        _address(entry["remote_addrs"], f"{where} remote_addrs"), ids["local"], ids["remote"],
        _words(entry.get("proposals", ["default"]), f"{where} proposals"),
        {n: _child(n, c, entry, f"{where} children.{n}") for n, c in children.items()},
        _mac(entry["remote_mac"], f"{where} remote_mac") if "remote_mac" in entry else None,
        ports["local_port"], ports["remote_port"],
        duration(entry.get("rekey_time", "4h"), f"{where} rekey_time"),
        duration(entry.get("dpd_delay", 0), f"{where} dpd_delay"), encap)


def _secret(name: str, entry: dict) -> Secret:
    where = f"ike.secrets.{name}"
    check_fields(entry, SECRET_FIELDS, where)
    if "secret" not in entry:
        raise ConfigError(f"{where}: missing field 'secret'")
    text = str(entry["secret"])
    try:
        if text.lower().startswith("0x"):
            secret = bytes.fromhex(text[2:])
        elif text.startswith("0s"):
            secret = base64.b64decode(text[2:], validate=True)
        else:
            secret = text.encode()
    except ValueError:
        raise ConfigError(f"{where} secret: not valid hexadecimal (0x...) or base64 (0s...)") from None
    if not secret:
        raise ConfigError(f"{where} secret: empty")
    ids = _words(entry["id"], f"{where} id") if "id" in entry else []
    return Secret(name, ids, secret)


def parse_ike(table: dict) -> IkeConfig:
    """The `[ike]` table as an IkeConfig, every field checked."""
    check_fields(table, DAEMON_FIELDS, "ike")
    connections = table.get("connections", {})
    secrets = table.get("secrets", {})
    check_fields(connections, set(connections) if isinstance(connections, dict) else set(), "ike.connections")
    check_fields(secrets, set(secrets) if isinstance(secrets, dict) else set(), "ike.secrets")
    config = IkeConfig({n: _connection(n, c) for n, c in connections.items()},
                       [_secret(n, s) for n, s in secrets.items()])
    if "local_mac" in table:
        config.local_mac = _mac(table["local_mac"], "ike local_mac")
    for f in ("retransmit_timeout", "retransmit_base"):
        if f in table:
            value = table[f]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"ike {f}: expected a positive number, got {value!r}")
            setattr(config, f, float(value))
    for f in ("retransmit_tries", "cookie_threshold"):
        if f in table:
            setattr(config, f, _count(table[f], f"ike {f}"))
    for conn in config.connections.values():
        if config.psk(conn.local_id, conn.remote_id) is None:
            raise ConfigError(f"ike.connections.{conn.name}: no secret in ike.secrets for "
                              f"{conn.local_id!r} and {conn.remote_id!r}")
    return config
