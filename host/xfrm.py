"""The `ip xfrm state|policy` vocabulary, turned into the dicts the TOML configuration holds.

The output of `state()` and `policy()` goes through `espline.config.parse_sa` /
`parse_policy` like any `[[sa]]` / `[[policy]]` entry, so the command line and the
configuration file share one validation path. Words (ip-xfrm(8), with `dir` as Linux 6.10):

    state: src ADDR dst ADDR proto esp spi SPI dir in|out mode tunnel|transport
           aead 'rfc4106(gcm(aes))' KEY ICV-BITS [replay-window N] [flag esn]
           [encap espinudp SPORT DPORT [OADDR]] [ttl N] [df copy|set|clear]
           [limit packet-soft N|packet-hard N|byte-soft N|byte-hard N ...]
           [replay-oseq N [replay-oseq-hi N]] [replay-seq N [replay-seq-hi N]]
    policy: [src PREFIX] [dst PREFIX] [proto P [sport PORT[-PORT]] [dport PORT[-PORT]]] dir in|out
            [priority N] [action allow|block|protect|bypass|discard] [tmpl ... spi SPI ...]

`replay-oseq` / `replay-seq` (with ESN, `-hi` the high 32 bits, as `ip xfrm` splits them) are
an outbound SA's last number sent and an inbound SA's replay window top: docs/config.md.

For a policy, `action allow` with a `tmpl` naming an SPI is `protect` (with that SA), without
one `bypass`; `block` is `discard`.
"""

from espline.config import ConfigError

LIMITS = {"packet-soft": "soft_packets", "packet-hard": "hard_packets", "byte-soft": "soft_bytes",
          "byte-hard": "hard_bytes"}
#: the starting numbers' words -> the configuration's fields (each 64 bits: `-hi` the high half)
STARTS = {"replay-oseq": "replay_oseq", "replay-seq": "replay_seq"}


class _Words:
    def __init__(self, words: list[str]):
        self.words, self.at = list(words), 0

    def __bool__(self):
        return self.at < len(self.words)

    def peek(self) -> str | None:
        return self.words[self.at] if self else None

    def take(self, what: str) -> str:
        if not self:
            raise ConfigError(f"{what}: missing after {' '.join(self.words)!r}")
        self.at += 1
        return self.words[self.at - 1]


def _ports(text: str, name: str):
    low, _, high = text.partition("-")
    return [low, high] if high else low


def state(words: list[str]) -> dict:
    """An `[[sa]]` entry from `ip xfrm state add|update` words."""
    w, entry, halves = _Words(words), {}, {}
    simple = {"src": "src", "dst": "dst", "spi": "spi", "dir": "dir", "mode": "mode", "replay-window": "replay_window",
              "ttl": "ttl", "df": "df"}
    while w:
        word = w.take("state")
        if word in simple:
            entry[simple[word]] = w.take(word)
        elif word == "proto":
            if (proto := w.take("proto")) != "esp":
                raise ConfigError(f"proto: {proto!r} is not 'esp'")
        elif word == "aead":
            entry["aead"], entry["key"], entry["icv"] = w.take("aead"), w.take("aead key"), w.take("aead icv")
        elif word == "flag":
            if (flag := w.take("flag")) != "esn":
                raise ConfigError(f"flag: {flag!r} is not 'esn'")
            entry["esn"] = True
        elif word == "encap":
            entry["encap"] = {"type": w.take("encap"), "sport": w.take("encap sport"), "dport": w.take("encap dport")}
            if w.peek() is not None and w.peek()[0].isdigit():
                w.take("encap oaddr")  # the NAT's original address: not used by ESP-in-UDP with GCM
        elif word.removesuffix("-hi") in STARTS:
            text = w.take(word)
            try:
                halves[word] = int(text, 0)
            except ValueError:
                raise ConfigError(f"{word}: expected a number, got {text!r}") from None
            if word.endswith("-hi") and not 0 <= halves[word] <= 0xFFFFFFFF:
                raise ConfigError(f"{word}: {text} is not 0..0xffffffff (the high 32 bits)")
        elif word == "limit":
            limits = entry.setdefault("limits", {})
            while w.peek() in LIMITS:
                kind = w.take("limit")
                limits[LIMITS[kind]] = w.take(f"limit {kind}")
            if not limits:
                raise ConfigError(f"limit: expected one of {', '.join(LIMITS)}")
        else:
            raise ConfigError(f"state: unknown word {word!r}")
    for word, name in STARTS.items():
        if word in halves or f"{word}-hi" in halves:
            entry[name] = halves.get(f"{word}-hi", 0) << 32 | halves.get(word, 0)
    return entry


def policy(words: list[str]) -> dict:
    """A `[[policy]]` entry from `ip xfrm policy add` words."""
    w, entry, action, tmpl_spi = _Words(words), {}, None, None
    while w:
        word = w.take("policy")
        if word in ("src", "dst", "proto", "dir", "priority"):
            entry[word] = w.take(word)
        elif word in ("sport", "dport"):
            entry[word] = _ports(w.take(word), word)
        elif word == "action":
            action = w.take("action")
        elif word == "tmpl":
            while w:  # tmpl src A dst B proto esp spi S mode M ...: only the SPI names our SA
                if w.take("tmpl") == "spi":
                    tmpl_spi = w.take("tmpl spi")
        else:
            raise ConfigError(f"policy: unknown word {word!r}")
    if action in (None, "allow"):
        action = "protect" if tmpl_spi is not None else "bypass"
    elif action == "block":
        action = "discard"
    entry["action"] = action
    if tmpl_spi is not None:
        entry["spi"] = tmpl_spi
    return entry
