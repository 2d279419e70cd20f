"""The configuration file (TOML, docs/config.md) and its entries as objects.

Vocabulary follows `ip xfrm state|policy`: spi, src, dst, mode tunnel|transport,
aead rfc4106(gcm(aes)) with key = AES key ‖ salt and icv in bits, replay_window,
encap espinudp sport dport, limits. Every error names the entry and field at fault.

    [appliance]                 # all optional
    default_policy = "discard"  # what IPv4 matching no policy gets: discard | bypass
    ipv6 = "discard"            # discard | bypass
    mtu = 9000                  # largest protected IPv4 packet on the ciphertext side

    [[sa]]
    spi = 0x1000
    dir = "out"                 # out: encapsulate; in: decapsulate
    src = "192.0.2.1"
    dst = "198.51.100.2"
    mode = "tunnel"             # tunnel | transport
    aead = "rfc4106(gcm(aes))"
    key = "0x<32 or 64 hex digits of key><8 hex digits of salt>"
    icv = 128                   # 64 | 96 | 128
    esn = false
    replay_window = 128
    encap = { type = "espinudp", sport = 4500, dport = 4500 }
    limits = { soft_packets = 0, hard_packets = 0, soft_bytes = 0, hard_bytes = 0 }
    ttl = 64
    df = "copy"                 # copy | set | clear
    replay_oseq = 0             # out: the last number sent (the first packet carries replay_oseq + 1)
    replay_seq = 0              # in: the replay window's top (every number up to it counts as received)

    [[policy]]
    dir = "out"
    src = "10.1.0.0/16"
    dst = "10.2.0.0/16"
    proto = "any"               # any | tcp | udp | icmp | sctp | esp | number
    sport = "any"               # any | port | [low, high]
    dport = "any"
    action = "protect"          # protect | bypass | discard
    spi = 0x1000                # protect only
    priority = 0

Parsing checks each entry on its own; the rules between entries and against a hardware build
are `espline.config.validation.validate`'s.
"""

import tomllib
from pathlib import Path

from .ike import parse_ike
from .options import Options
from .policy import ANY_PORT, PROTOCOL_NAMES, Policy, Selector
from .sa import AEAD_NAME, Lifetime, NatT, SecurityAssociation
from .validation import Config, ConfigError, check_fields

SA_FIELDS = {"spi", "dir", "src", "dst", "mode", "aead", "key", "icv", "esn", "replay_window", "encap",
             "limits", "ttl", "df", "replay_oseq", "replay_seq"}
POLICY_FIELDS = {"dir", "src", "dst", "proto", "sport", "dport", "action", "spi", "priority"}
APPLIANCE_FIELDS = {"default_policy", "ipv6", "mtu"}



def _int(value, name: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value), 0)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None


def _key(value) -> bytes:
    text = str(value)
    text = text[2:] if text.lower().startswith("0x") else text
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"key: {value!r} is not hexadecimal") from None


def _ports(value, name: str) -> tuple[int, int]:
    if value == "any":
        return ANY_PORT
    if isinstance(value, list):
        if len(value) != 2:
            raise ConfigError(f"{name}: a range is [low, high]")
        return _int(value[0], name), _int(value[1], name)
    port = _int(value, name)
    return port, port


def _proto(value) -> int | None:
    if isinstance(value, str) and value.lower() in PROTOCOL_NAMES:
        return PROTOCOL_NAMES[value.lower()]
    return _int(value, "proto")


def parse_sa(entry: dict | SecurityAssociation) -> SecurityAssociation:
    """An `[[sa]]` entry (as TOML or `espline.host.xfrm` gives it) as an SA; an SA stays as it is."""
    if isinstance(entry, SecurityAssociation):
        return entry
    check_fields(entry, SA_FIELDS, "sa")
    missing = [f for f in ("spi", "dir", "src", "dst", "mode", "key") if f not in entry]
    if missing:
        raise ConfigError(f"sa: missing field {missing[0]!r}")
    aead = entry.get("aead", AEAD_NAME)
    if aead != AEAD_NAME:
        raise ConfigError(f"aead: {aead!r} is not supported (only {AEAD_NAME})")
    encap = entry.get("encap")
    if encap is not None:
        check_fields(encap, {"type", "sport", "dport"}, "encap")
        if encap.get("type", "espinudp") != "espinudp":
            raise ConfigError(f"encap: type {encap['type']!r} is not 'espinudp'")
        encap = NatT(_int(encap.get("sport", 4500), "encap.sport"), _int(encap.get("dport", 4500), "encap.dport"))
    limits = entry.get("limits", {})
    check_fields(limits, {"soft_packets", "hard_packets", "soft_bytes", "hard_bytes"}, "limits")
    try:
        return SecurityAssociation(
            spi=_int(entry["spi"], "spi"), dir=entry["dir"], src=entry["src"], dst=entry["dst"],
            mode=entry["mode"], key=_key(entry["key"]), icv_bits=_int(entry.get("icv", 128), "icv"),
            esn=bool(entry.get("esn", False)), replay_window=_int(entry.get("replay_window", 128), "replay_window"),
            encap=encap, lifetime=Lifetime(**{k: _int(v, f"limits.{k}") for k, v in limits.items()}),
            ttl=_int(entry.get("ttl", 64), "ttl"), df=entry.get("df", "copy"),
            replay_oseq=_int(entry.get("replay_oseq", 0), "replay_oseq"),
            replay_seq=_int(entry.get("replay_seq", 0), "replay_seq"))
    except ValueError as e:
        raise ConfigError(str(e)) from None


def parse_policy(entry: dict | Policy) -> Policy:
    """A `[[policy]]` entry as a Policy; a Policy stays as it is."""
    if isinstance(entry, Policy):
        return entry
    check_fields(entry, POLICY_FIELDS, "policy")
    for f in ("dir", "action"):
        if f not in entry:
            raise ConfigError(f"policy: missing field {f!r}")
    try:
        selector = Selector(src=entry.get("src", "0.0.0.0/0"), dst=entry.get("dst", "0.0.0.0/0"),
                            proto=_proto(entry.get("proto", "any")),
                            sport=_ports(entry.get("sport", "any"), "sport"),
                            dport=_ports(entry.get("dport", "any"), "dport"))
        spi = _int(entry["spi"], "spi") if "spi" in entry else None
        return Policy(dir=entry["dir"], selector=selector, action=entry["action"], spi=spi,
                      priority=_int(entry.get("priority", 0), "priority"))
    except ValueError as e:
        raise ConfigError(str(e)) from None


def parse_options(table: dict) -> Options:
    """The `[appliance]` table."""
    check_fields(table, APPLIANCE_FIELDS, "appliance")
    try:
        return Options(**{k: _int(v, k) if k == "mtu" else v for k, v in table.items()})
    except ValueError as e:
        raise ConfigError(f"appliance {e}") from None


def parse(document: dict) -> Config:
    """A whole configuration, its entries dicts (as TOML gives them) or objects; each entry checked
    on its own (ConfigError prefixed `sa[i]`, `policy[i]`)."""
    check_fields(document, {"appliance", "sa", "policy", "ike"}, "config")
    options = parse_options(document.get("appliance", {}))
    ike = parse_ike(document["ike"]) if "ike" in document else None
    sas, policies = [], []
    for i, entry in enumerate(document.get("sa", [])):
        try:
            sas.append(parse_sa(entry))
        except ConfigError as e:
            raise ConfigError(f"sa[{i}] {e}") from None
    for i, entry in enumerate(document.get("policy", [])):
        try:
            policies.append(parse_policy(entry))
        except ConfigError as e:
            raise ConfigError(f"policy[{i}] {e}") from None
    return Config(sas, policies, options, ike)


def load(path: str | Path) -> Config:
    """The configuration file at `path`, parsed (not yet validated against a build)."""
    try:
        with open(path, "rb") as f:
            return parse(tomllib.load(f))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
