"""Seeded traffic mixes for a site-A appliance (`espline.sim.sites` grown to many SA pairs).

:class:`SiteMix` draws a configuration: SA pairs with both AES key sizes, tunnel/transport,
NAT-T (RFC 3948), ESN (RFC 4304), ICV 8/12/16 bytes, replay windows and some lifetimes, plus
protect, bypass and discard policies. Its generators give the frames for each input port:

- ``plain``: LAN-A traffic, 64..1518-byte frames and some jumbo up to 9000, UDP/TCP/ICMP, VLAN
  or not, IP options, fragments, policy bypass/discard/no match, ARP, IPv6, malformed headers.
- ``cipher``: ESP made by the peer's model appliance (site B) from LAN-B traffic, then tampered
  (one bit flipped in the outer header, UDP header, SPI, seq, IV, ciphertext, pad, ICV),
  replayed (back-to-back or later), reordered in and just out of the window (RFC 4303 §3.4.3),
  truncated, with bad trailers sealed with the peer's key (bad pad, dummy next header 59,
  misaligned, TFC padding), unknown SPIs, the wrong encapsulation, IKE on UDP 500 and 4500
  (non-ESP marker), NAT keepalives, cleartext, ARP, IPv6 and random garbage.
- both, in the ``hostile`` mix: frames at the edges of the size contract (0 bytes, 1..13,
  the largest frame, one byte more, 64 KiB and beyond).
- ``host``: IKE from the management CPU, and a few other frames.

Every choice comes from ``random.Random`` seeded by (seed, purpose),
so a seed names the same configuration and the same frames everywhere.
"""

import ipaddress
import random
import struct
from dataclasses import dataclass, replace

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from espline.gateware.appliance import Appliance as GatewareAppliance
from espline.gateware.builds import BUILDS
from espline.regmap.spi_index import SpiIndex
from espline.sim.model import Appliance, Lifetime, NatT, Policy, Port, SecurityAssociation, Selector
from espline.sim.model.appliance import MAX_FRAME

__all__ = ["APPLIANCE", "MIXES", "SiteMix", "bus_and_mtu", "frame_size", "gateware"]

#: The appliance options the bench builds the gateware with (and configures the model with).
APPLIANCE = {"default_policy": "discard", "ipv6": "discard", "mtu": 9000}


def gateware(config: str):
    """The appliance the bench runs as `config`: a named build (`espline.gateware.builds.BUILDS`,
    e.g. "gigabit": its engine, bus width, tables and MTU), else the register map's default build
    with the GCM engine `config` ("wide", "compact"); the options of `APPLIANCE` either way."""
    if config in BUILDS:
        return BUILDS[config].appliance(default_policy=APPLIANCE["default_policy"], ipv6=APPLIANCE["ipv6"])
    return GatewareAppliance(config, **APPLIANCE)


def bus_and_mtu(config: str) -> tuple[int, int]:
    """The packet bus width and the MTU of the appliance `gateware(config)` builds."""
    build = BUILDS.get(config)
    return (build.width, build.mtu) if build else (16, APPLIANCE["mtu"])

ADDR_A = "192.0.2.1"
MAC_A, MAC_B = bytes.fromhex("02000000000a"), bytes.fromhex("02000000000b")
UDP, TCP, ICMP, ESP = 17, 6, 1, 50

#: Frame kinds per port and their weights; ``jumbo``: share of frames above 1518 bytes.
MIXES = {
    "default": {
        "jumbo": 0.01, "share": {"plain": 0.45, "cipher": 0.45, "host": 0.10},
        "plain": {"protect": 55, "bypass": 6, "dns": 3, "discard": 4, "nomatch": 4, "fragment": 3, "options": 3,
                  "small": 4, "arp": 2, "ipv6": 2, "ethertype": 2, "malformed": 8, "too_big": 0.5, "too_big_df": 0.5},
        "cipher": {"esp": 50, "stray": 2, "tamper": 10, "replay_dup": 3, "replay_old": 3, "reorder_near": 3,
                   "reorder_edge": 0.1, "trailer": 4, "truncated": 3, "bad_ip": 2, "esp_fragment": 1,
                   "unknown_spi": 3, "wrong_encap": 2, "ike500": 2, "ike4500": 2, "keepalive": 2, "short4500": 1,
                   "cleartext": 4, "arp": 1, "ipv6": 1, "garbage": 2},
    },
    "clean": {
        "jumbo": 0.01, "share": {"plain": 0.45, "cipher": 0.45, "host": 0.10},
        "plain": {"protect": 90, "bypass": 10},
        "cipher": {"esp": 90, "ike500": 5, "keepalive": 5},
    },
    "hostile": {
        "jumbo": 0.02, "share": {"plain": 0.3, "cipher": 0.6, "host": 0.10},
        "plain": {"protect": 30, "bypass": 5, "discard": 5, "nomatch": 10, "fragment": 5, "options": 5, "small": 5,
                  "arp": 3, "ipv6": 5, "ethertype": 5, "malformed": 22, "too_big": 1, "too_big_df": 1, "edge_size": 2},
        "cipher": {"esp": 15, "stray": 4, "tamper": 20, "replay_dup": 6, "replay_old": 6, "reorder_near": 5,
                   "reorder_edge": 0.3, "trailer": 8, "truncated": 6, "bad_ip": 5, "esp_fragment": 2,
                   "unknown_spi": 6, "wrong_encap": 4, "ike500": 2, "ike4500": 2, "keepalive": 2, "short4500": 2,
                   "cleartext": 5, "arp": 1, "ipv6": 2, "garbage": 6, "edge_size": 2},
    },
}
MIXES["jumbo"] = {**MIXES["default"], "jumbo": 0.2}
MIXES["pmtu"] = {  # Path MTU: too-big DF frames among protected ones, past the ICMP rate limit
    "jumbo": 0.05, "share": {"plain": 0.7, "cipher": 0.25, "host": 0.05},
    "plain": {"protect": 40, "too_big_df": 15, "too_big": 5, "small": 5},
    "cipher": {"esp": 90, "tamper": 10},
}
MIXES["replay"] = {  # the anti-replay window (RFC 4303 §3.4.3, ESN Appendix A2) at and around its edges
    "jumbo": 0.0, "share": {"plain": 0.05, "cipher": 0.9, "host": 0.05},
    "plain": {"protect": 1}, "cipher": {"esp": 30, "replay_dup": 10, "replay_old": 10, "reorder_near": 10,
                                        "reorder_edge": 1, "tamper": 5},
}


#: Site A's policies besides the protect pair of each SA pair.
FIXED_POLICIES = (
    Policy("out", Selector(src="10.1.0.0/16", dst="10.2.0.0/16", proto=TCP, dport=(22, 23)), "discard", priority=10),
    Policy("out", Selector(proto=UDP, dport=(53, 53)), "bypass", priority=15),
    Policy("out", Selector(src="10.1.200.0/24"), "bypass", priority=30),
    Policy("in", Selector(src="10.2.200.0/24", dst="10.1.200.0/24"), "bypass", priority=30),
    Policy("in", Selector(dst="10.1.0.0/16", proto=ICMP), "bypass", priority=40),
)


def frame_size(rng: random.Random, jumbo: float) -> int:
    """A frame length (no FCS): mostly 64..1518 with the usual edge sizes, ``jumbo`` share above."""
    if rng.random() < jumbo:
        return rng.randint(1519, 9000)
    r = rng.random()
    if r < 0.45:
        return rng.randint(64, 200)
    if r < 0.85:
        return rng.randint(201, 1518)
    return rng.choice((64, 65, 127, 128, 129, 511, 512, 1500, 1514, 1518))


# -- packet building (independent of the model: plain struct packing) ---------------------------------

def _checksum(data: bytes) -> int:
    """RFC 1071 one's-complement sum."""
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _addr(a: str) -> bytes:
    return ipaddress.IPv4Address(a).packed


def ip_header(src: str, dst: str, proto: int, total: int, *, tos=0, ident=0, frag=0, ttl=64, options=b"") -> bytes:
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | (20 + len(options)) // 4, tos, total, ident, frag, ttl, proto, 0,
                              _addr(src), _addr(dst)) + options)
    h[10:12] = _checksum(bytes(h)).to_bytes(2, "big")
    return bytes(h)


def refresh_ip(packet: bytes, **fields) -> bytes:
    """``packet`` with a new total length / protocol / frag word and a correct header checksum."""
    p = bytearray(packet)
    if "total" in fields:
        p[2:4] = fields["total"].to_bytes(2, "big")
    if "proto" in fields:
        p[9] = fields["proto"]
    if "frag" in fields:
        p[6:8] = fields["frag"].to_bytes(2, "big")
    ihl = (p[0] & 15) * 4
    p[10:12] = b"\0\0"
    p[10:12] = _checksum(bytes(p[:ihl])).to_bytes(2, "big")
    return bytes(p)


def ip_packet(rng, size, src, dst, proto, *, sport=None, dport=None, tos=0, frag=0, options=b"") -> bytes:
    """An IPv4 packet of ``size`` bytes (raised to the headers' size) with a random payload."""
    l4 = {UDP: 8, TCP: 20, ICMP: 8}.get(proto, 0)
    hl = 20 + len(options)
    size = max(size, hl + l4)
    data = rng.randbytes(size - hl - l4)
    sport = rng.randint(1024, 65535) if sport is None else sport
    dport = rng.randint(1024, 65535) if dport is None else dport
    if proto == UDP:
        seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    elif proto == TCP:
        seg = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), rng.getrandbits(32), 0x50, 0x10, 8192, 0,
                          0) + data
    elif proto == ICMP:
        body = struct.pack("!BBHHH", 8, 0, 0, rng.getrandbits(16), rng.getrandbits(16)) + data
        seg = body[:2] + _checksum(body + b"\0" * (len(body) & 1)).to_bytes(2, "big") + body[4:]
    else:
        seg = data
    return ip_header(src, dst, proto, size, tos=tos, ident=rng.getrandbits(16), frag=frag, options=options) + seg


def ethernet(packet: bytes, vlan: int | None = None, ethertype: int = 0x0800, src=MAC_A, dst=MAC_B) -> bytes:
    tag = b"" if vlan is None else struct.pack("!HH", 0x8100, vlan)
    return dst + src + tag + ethertype.to_bytes(2, "big") + packet


def l2_length(frame: bytes) -> int:
    return 18 if frame[12:14] in (b"\x81\x00", b"\x88\xa8") else 14


# -- configuration ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SaSpec:
    """One SA as site A holds it (the peer holds the mirror image)."""
    spi: int
    dir: str
    peer: str
    mode: str
    key: bytes
    icv_bits: int
    esn: bool
    encap: NatT | None
    replay_window: int = 128
    lifetime: Lifetime = Lifetime()
    ttl: int = 64
    df: str = "copy"
    start: int = 0  # replay_oseq (out) or replay_seq (in): an SA taken over (docs/config.md)
    peer_start: int = 0  # in: the peer's replay_oseq (below `start`: its first packets are replays)

    def site_a(self) -> SecurityAssociation:
        src, dst = (ADDR_A, self.peer) if self.dir == "out" else (self.peer, ADDR_A)
        return SecurityAssociation(spi=self.spi, dir=self.dir, src=src, dst=dst, mode=self.mode, key=self.key,
                                   icv_bits=self.icv_bits, esn=self.esn, replay_window=self.replay_window,
                                   encap=self.encap, lifetime=self.lifetime, ttl=self.ttl, df=self.df,
                                   **{"replay_oseq" if self.dir == "out" else "replay_seq": self.start})

    def peer_out(self) -> SecurityAssociation:
        """Site B's outbound SA that feeds this inbound SA."""
        return SecurityAssociation(spi=self.spi, dir="out", src=self.peer, dst=ADDR_A, mode=self.mode, key=self.key,
                                   icv_bits=self.icv_bits, esn=self.esn, encap=self.encap,
                                   replay_oseq=self.peer_start)


@dataclass(frozen=True)
class Pair:
    """SA pair k: LAN 10.1.k.0/24 <-> 10.2.k.0/24 (tunnel) or ADDR_A <-> peer (transport)."""
    k: int
    peer: str
    mode: str
    out: SaSpec
    inb: SaSpec

    @property
    def nets(self) -> tuple[str, str]:
        """(site A side, site B side) of the protected traffic."""
        if self.mode == "tunnel":
            return f"10.1.{self.k}.0/24", f"10.2.{self.k}.0/24"
        return f"{ADDR_A}/32", f"{self.peer}/32"

    def host_a(self, rng) -> str:
        return f"10.1.{self.k}.{rng.randint(1, 254)}" if self.mode == "tunnel" else ADDR_A

    def host_b(self, rng) -> str:
        return f"10.2.{self.k}.{rng.randint(1, 254)}" if self.mode == "tunnel" else self.peer


class SiteMix:
    """A seeded configuration of site A and its peer, and the frames for each input port."""

    def __init__(self, seed: int = 1, mix: str = "default", *, n_sa: int = 256, n_policy: int = 64,
                 window: int = 128, max_frame: int = MAX_FRAME, mtu: int = APPLIANCE["mtu"],
                 pairs: tuple[int, int] = (3, 12)):
        """``n_sa``, ``n_policy``, ``window``, ``max_frame``: the hardware's table sizes, replay window
        and longest frame; ``mtu`` its option (the number of SA pairs is drawn from ``pairs``
        within what the tables hold)."""
        if mix not in MIXES:
            raise ValueError(f"mix: {mix!r} is not one of {', '.join(MIXES)}")
        self.seed, self.mix, self.weights = seed, mix, MIXES[mix]
        self.n_sa, self.window, self.max_frame, self.mtu = n_sa, window, max_frame, mtu
        rng, taken_over = self._rng("config"), self._rng("taken-over")
        n = rng.randint(*pairs)
        n = min(n, n_sa // 2, (n_policy - len(FIXED_POLICIES)) // 2)
        windows = [w for w in (32, 64, 128, window) if w <= window]
        spis, index = {"out": set(), "in": set()}, SpiIndex(n_sa)

        def spi(dir):
            """A new SPI, one in ten of 1..255 (manual keying: docs/config.md); an inbound one that
            the SPI index takes (in the order the SAs are loaded)."""
            def draw():
                s = rng.randint(256, 0xFFFFFFFF)
                return taken_over.randint(1, 255) if taken_over.random() < 0.1 else s
            while (s := draw()) in spis[dir] or (dir == "in" and not index.insert(s, len(spis[dir]))):
                pass
            spis[dir].add(s)
            return s

        def start(dir, esn):
            """(starting number, the peer's for an inbound SA): mostly 0, else an SA taken over at a
            small or any number, or near the end: an outbound SA a few hundred packets from its
            last number; an inbound one with ESN just below a 2^32 boundary (its window crosses
            it), without ESN far enough from the end that the peer never runs out."""
            last = ((1 << 64) if esn else (1 << 32)) - 2  # the largest start (RFC 4303 §3.3.3)
            r = taken_over.random()
            if r < 0.6:
                n = 0
            elif r < 0.75:
                n = taken_over.randint(1, 1 << 20)
            elif r < 0.85:
                n = taken_over.randint(1, last - (1 << 22))
            elif dir == "out":
                n = last - taken_over.randint(0, 400)
            elif esn:
                n = (taken_over.randint(1, (1 << 31)) << 32) - taken_over.randint(1, 300)
            else:
                n = last - taken_over.randint(1 << 21, 1 << 22)
            return n, max(0, n - taken_over.choice((0, 0, 1, 3)))

        def lifetime():
            r = rng.random()
            if r < 0.1:
                hard = rng.randint(100, 2000)
                return Lifetime(soft_packets=hard // 2, hard_packets=hard)
            if r < 0.15:
                return Lifetime(hard_bytes=rng.randint(5000, 200000))
            return Lifetime()

        def key():
            return rng.randbytes(rng.choice((16, 32)) + 4)

        self.pairs = []
        for k in range(n):
            mode = rng.choice(("tunnel", "tunnel", "transport"))
            natt = rng.random() < 0.3
            peer = f"198.51.100.{10 + k}"
            out = SaSpec(spi("out"), "out", peer, mode, key(), rng.choice((64, 96, 128)), rng.random() < 0.5,
                         NatT(4500, rng.choice((4500, rng.randint(1024, 65535)))) if natt else None,
                         lifetime=lifetime(), ttl=rng.choice((64, 255, 1)), df=rng.choice(("copy", "set", "clear")))
            inb = SaSpec(spi("in"), "in", peer, mode, key(), rng.choice((64, 96, 128)), rng.random() < 0.5,
                         NatT(rng.choice((4500, rng.randint(1024, 65535))), 4500) if natt else None,
                         replay_window=rng.choice(windows), lifetime=lifetime())
            out = replace(out, start=start("out", out.esn)[0])
            inb_start, peer_start = start("in", inb.esn)
            self.pairs.append(Pair(k, peer, mode, out, replace(inb, start=inb_start, peer_start=peer_start)))

    def _rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{self.mix}:{purpose}")

    def config(self) -> tuple[list[SecurityAssociation], list[Policy]]:
        """Site A's SAs and policies (new objects on every call: one set for the driver, one for the model)."""
        sas = [s for p in self.pairs for s in (p.out.site_a(), p.inb.site_a())]
        policies = list(FIXED_POLICIES)
        for p in self.pairs:
            a, b = p.nets
            policies.append(Policy("out", Selector(src=a, dst=b), "protect", p.out.spi, priority=20))
            policies.append(Policy("in", Selector(src=b, dst=a), "protect", p.inb.spi, priority=20))
        return sas, policies

    def model(self) -> Appliance:
        """Site A's reference model, configured as the DUT is."""
        sas, policies = self.config()
        return Appliance(sas, policies, **{**APPLIANCE, "mtu": self.mtu}, max_frame=self.max_frame)

    def peer(self) -> Appliance:
        """Site B: protects LAN B towards all of LAN A (wider than A's inbound selectors, so some of
        what it sends decrypts fine and is then refused by A's selector check, RFC 4301 §5.2)."""
        policies = []
        for p in self.pairs:
            a, b = p.nets
            dst = "10.1.0.0/16" if p.mode == "tunnel" else a
            policies.append(Policy("out", Selector(src=b, dst=dst), "protect", p.inb.spi, priority=20))
        return Appliance([p.inb.peer_out() for p in self.pairs], policies, default_policy="bypass", mtu=9000)

    def counts(self, total: int) -> dict[str, int]:
        """Frames per input port for ``total`` frames in all."""
        share = self.weights["share"]
        plain, host = round(total * share["plain"]), round(total * share["host"])
        return {"plain_i": plain, "cipher_i": total - plain - host, "host_i": host}

    def frames(self, port: str, n: int):
        """An iterator of ``n`` frames for input ``port`` (plain_i, cipher_i, host_i)."""
        gen = {"plain_i": _PlainGen, "cipher_i": _CipherGen, "host_i": _HostGen}[port](self)
        count = 0
        while count < n:
            for frame in gen.next():
                yield frame
                count += 1
                if count == n:
                    return

    def describe(self) -> str:
        return "; ".join(
            f"{p.k}:{p.mode}{'/natt' if p.out.encap else ''} out {p.out.spi:#x} aes{8 * (len(p.out.key) - 4)} "
            f"icv{p.out.icv_bits}{' esn' if p.out.esn else ''} in {p.inb.spi:#x} aes{8 * (len(p.inb.key) - 4)} "
            f"icv{p.inb.icv_bits}{' esn' if p.inb.esn else ''} w{p.inb.replay_window}"
            f"{f' oseq {p.out.start:#x}' if p.out.start else ''}{f' seq {p.inb.start:#x}' if p.inb.start else ''}"
            for p in self.pairs)


class _Gen:
    def __init__(self, mix: SiteMix, purpose: str):
        self.mix, self.rng = mix, mix._rng(purpose)
        kinds = mix.weights.get(purpose, {})
        self.kinds, self.cum = list(kinds), []
        total = 0
        for w in kinds.values():
            total += w
            self.cum.append(total)

    def kind(self) -> str:
        return self.rng.choices(self.kinds, cum_weights=self.cum)[0]

    def vlan(self) -> int | None:
        return self.rng.randint(1, 4094) if self.rng.random() < 0.15 else None

    def next(self) -> list[bytes]:
        return getattr(self, f"_{self.kind()}")()

    def _edge_size(self):
        """The frame-size contract's edges (docs/frames.md): 0 bytes, runts, the largest frame, one
        byte more, and 64 KiB and beyond; an IPv4 header filling the frame where one fits."""
        rng = self.rng
        largest = self.mix.max_frame
        size = rng.choice((0, rng.randint(1, 13), largest, largest + 1, rng.randint(65_536, 70_000)))
        if size < 14 + 20:
            return [rng.randbytes(size)]
        p = rng.choice(self.mix.pairs)
        header = ip_header(p.host_a(rng), p.host_b(rng), UDP, min(size - 14, 0xFFFF))
        return [ethernet(header + rng.randbytes(size - 14 - len(header)))]


class _PlainGen(_Gen):
    """LAN A -> plain_i."""

    def __init__(self, mix):
        super().__init__(mix, "plain")

    def _ip(self, src, dst, *, proto=None, size=None, **kw) -> bytes:
        rng = self.rng
        vlan = self.vlan()
        size = (size or frame_size(rng, self.mix.weights["jumbo"])) - (14 if vlan is None else 18)
        proto = proto or rng.choice((UDP, UDP, TCP, TCP, ICMP))
        kw.setdefault("tos", rng.choice((0, 0, 0, rng.getrandbits(8))))
        if "frag" not in kw and rng.random() < 0.3:
            kw["frag"] = 0x4000  # DF
        return ethernet(ip_packet(rng, size, src, dst, proto, **kw), vlan)

    def _protect(self, **kw):
        p = self.rng.choice(self.mix.pairs)
        dport = self.rng.randint(1024, 65535)
        return [self._ip(p.host_a(self.rng), p.host_b(self.rng), dport=dport, **kw)]

    def _too_big(self):
        """Near the MTU: over it once the ESP overhead is added."""
        return self._protect(size=self.rng.randint(self.mix.mtu - 50, self.mix.mtu))

    def _too_big_df(self):
        """Too big with DF set: answered with ICMP "fragmentation needed" while the rate limit
        has tokens, suppressed and counted after (docs/model.md)."""
        return self._protect(size=self.rng.randint(8970, 9200), frag=0x4000)

    def _bypass(self):
        dst = str(ipaddress.IPv4Address(self.rng.getrandbits(32)))
        return [self._ip(f"10.1.200.{self.rng.randint(1, 254)}", dst)]

    def _dns(self):
        p = self.rng.choice(self.mix.pairs)
        return [self._ip(p.host_a(self.rng), "8.8.8.8", proto=UDP, dport=53, size=self.rng.randint(64, 300))]

    def _discard(self):
        p = self.rng.choice(self.mix.pairs)
        return [self._ip(f"10.1.{p.k}.7", f"10.2.{p.k}.9", proto=TCP, dport=self.rng.choice((22, 23)))]

    def _nomatch(self):
        return [self._ip(f"172.16.{self.rng.randint(0, 255)}.1", f"10.2.0.{self.rng.randint(1, 254)}")]

    def _fragment(self):
        frag = self.rng.choice((0x2000, 0x2000 | self.rng.randint(1, 0x1FFF), self.rng.randint(1, 0x1FFF)))
        return self._protect(frag=frag)

    def _options(self):
        n = self.rng.randint(1, 10)
        return self._protect(options=bytes([1]) * (4 * n - 1) + b"\0")  # NOPs, end of options

    def _small(self):
        """A short packet in a frame padded to the Ethernet minimum (the IP length says where it ends)."""
        p = self.rng.choice(self.mix.pairs)
        packet = ip_packet(self.rng, self.rng.randint(20, 46), p.host_a(self.rng), p.host_b(self.rng),
                           self.rng.choice((ICMP, UDP, 253)))
        return [ethernet(packet).ljust(60, b"\0") if self.rng.random() < 0.7 else ethernet(packet)]

    def _arp(self):
        return [ethernet(struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + MAC_A + _addr("10.1.0.1") + bytes(6)
                         + _addr("10.1.0.2"), ethertype=0x0806, dst=b"\xff" * 6)]

    def _ipv6(self):
        return [ethernet(b"\x60" + self.rng.randbytes(self.rng.randint(39, 200)), self.vlan(), ethertype=0x86DD)]

    def _ethertype(self):
        return [ethernet(self.rng.randbytes(self.rng.randint(46, 300)), self.vlan(),
                         ethertype=self.rng.choice((0x88CC, 0x8863, 0x9000, 0x0001)))]

    def _malformed(self):
        rng = self.rng
        p = rng.choice(self.mix.pairs)
        packet = bytearray(ip_packet(rng, rng.randint(28, 600), p.host_a(rng), p.host_b(rng), UDP))
        how = rng.choice(("runt", "version", "ihl", "checksum", "total_long", "total_short_ihl", "truncated",
                          "double_vlan", "tiny_ip"))
        if how == "runt":
            return [rng.randbytes(rng.randint(1, 13))]
        if how == "version":
            packet[0] = rng.choice((0x05, 0x65, 0x35, 0xF5))
        elif how == "ihl":
            packet[0] = 0x40 | rng.randint(0, 4)
        elif how == "checksum":
            packet[10] ^= 1 << rng.randint(0, 7)
        elif how == "total_long":
            packet = bytearray(refresh_ip(bytes(packet), total=len(packet) + rng.randint(1, 100)))
        elif how == "total_short_ihl":
            packet = bytearray(refresh_ip(bytes(packet), total=rng.randint(0, 19)))
        elif how == "truncated":
            packet = packet[:rng.randint(1, len(packet) - 1)]
        elif how == "double_vlan":
            return [ethernet(struct.pack("!HH", rng.randint(1, 4094), 0x8100) + struct.pack("!H", 1) + bytes(packet),
                             vlan=5, ethertype=0x8100)]
        elif how == "tiny_ip":
            return [ethernet(bytes(packet[:rng.randint(0, 19)]))]
        return [ethernet(bytes(packet), self.vlan())]


class _CipherGen(_Gen):
    """Site B (and the WAN) -> cipher_i."""

    def __init__(self, mix):
        super().__init__(mix, "cipher")
        self.peer = mix.peer()
        self.history: list[bytes] = []  # genuine ESP frames sent, newest last (for replays)

    # ESP from the peer

    def _inner(self, p: Pair, *, stray=False, size=None) -> bytes:
        rng = self.rng
        vlan = self.vlan()
        size = min((size or frame_size(rng, self.mix.weights["jumbo"])) - (14 if vlan is None else 18), 8900)
        src = p.host_b(rng)
        dst = p.host_a(rng)
        if stray:
            dst = f"10.1.{rng.choice([250] + [q.k for q in self.mix.pairs if q.k != p.k])}.{rng.randint(1, 254)}"
        proto = rng.choice((UDP, TCP, ICMP))
        packet = ip_packet(rng, size, src, dst, proto, tos=rng.choice((0, rng.getrandbits(8))),
                           frag=rng.choice((0, 0, 0x4000)))
        return ethernet(packet, vlan, src=MAC_B, dst=MAC_A)

    def _esp_frame(self, p: Pair | None = None, **kw) -> tuple[Pair, bytes]:
        """A genuine ESP frame from the peer (encapsulated by the peer's model)."""
        p = p or self.rng.choice(self.mix.pairs)
        verdict = self.peer.process(Port.PLAIN, self._inner(p, **kw))
        assert verdict.port is Port.CIPHER, verdict
        self.history.append(verdict.frame)
        del self.history[:-1000]
        return p, verdict.frame

    def _esp(self):
        return [self._esp_frame()[1]]

    def _stray(self):
        tunnels = [p for p in self.mix.pairs if p.mode == "tunnel"]
        return [self._esp_frame(self.rng.choice(tunnels), stray=True)[1]] if tunnels else self._esp()

    def _layout(self, p: Pair, frame: bytes) -> dict[str, tuple[int, int]]:
        """Byte ranges of an ESP frame's parts."""
        l2 = l2_length(frame)
        ihl = (frame[l2] & 15) * 4
        end = l2 + int.from_bytes(frame[l2 + 2:l2 + 4], "big")
        esp = l2 + ihl + (8 if p.inb.encap else 0)
        icv = p.inb.icv_bits // 8
        parts = {"ip": (l2, l2 + ihl), "spi": (esp, esp + 4), "seq": (esp + 4, esp + 8), "iv": (esp + 8, esp + 16),
                 "ciphertext": (esp + 16, end - icv - 4), "pad": (end - icv - 4, end - icv), "icv": (end - icv, end)}
        if p.inb.encap:
            parts["udp"] = (l2 + ihl, esp)
        if parts["ciphertext"][0] >= parts["ciphertext"][1]:
            del parts["ciphertext"]
        return parts

    def _tamper(self):
        rng = self.rng
        p, frame = self._esp_frame()
        region = rng.choice(sorted(self._layout(p, frame)))
        lo, hi = self._layout(p, frame)[region]
        bit = rng.randrange(8 * lo, 8 * hi)
        bad = bytearray(frame)
        bad[bit // 8] ^= 1 << (bit % 8)
        return [bytes(bad), frame] if rng.random() < 0.5 else [bytes(bad)]

    def _replay_dup(self):
        frame = self._esp_frame()[1]
        return [frame] * self.rng.randint(2, 3)

    def _replay_old(self):
        return [self.rng.choice(self.history)] if self.history else self._esp()

    def _reorder_near(self):
        p = self.rng.choice(self.mix.pairs)
        frames = [self._esp_frame(p)[1] for _ in range(self.rng.randint(2, 5))]
        self.rng.shuffle(frames)
        return frames

    def _reorder_edge(self):
        """A frame held back while window - 2 .. window + 1 newer frames of its SA pass: accepted
        late just inside the window, dropped as too old just outside (RFC 4303 §3.4.3)."""
        p = self.rng.choice(self.mix.pairs)
        held = self._esp_frame(p, size=80)[1]
        w = p.inb.replay_window
        n = self.rng.randint(max(0, w - 2), w + 1)
        newer = [self._esp_frame(p, size=self.rng.randint(64, 128))[1] for _ in range(n)]
        return [*newer, held]

    def _seal(self, p: Pair, plaintext: bytes) -> bytes:
        """An authentic ESP frame with an arbitrary plaintext (payload ‖ trailer), sealed with the
        peer SA's key and next sequence number by `cryptography` (RFC 4106 §3-5)."""
        sa = self.peer.sad.get("out", p.inb.spi)
        seq = sa.seq = sa.seq + 1
        iv = seq.to_bytes(8, "big")
        aad = struct.pack("!IQ", sa.spi, seq) if sa.esn else struct.pack("!II", sa.spi, seq & 0xFFFFFFFF)
        sealed = AESGCM(sa.key[:-4]).encrypt(sa.key[-4:] + iv, plaintext, aad)
        esp = struct.pack("!II", sa.spi, seq & 0xFFFFFFFF) + iv + sealed[:len(plaintext) + p.inb.icv_bits // 8]
        proto = ESP
        if sa.encap:
            esp = struct.pack("!HHHH", sa.encap.sport, sa.encap.dport, 8 + len(esp), 0) + esp
            proto = UDP
        return ethernet(ip_header(p.peer, ADDR_A, proto, 20 + len(esp), ident=seq & 0xFFFF) + esp, self.vlan(),
                        src=MAC_B, dst=MAC_A)

    def _trailer(self):
        rng = self.rng
        p = rng.choice(self.mix.pairs)
        inner = self._inner(p, size=rng.randint(64, 400))
        payload = inner[l2_length(inner):]
        nh = 4
        if p.mode == "transport":
            payload, nh = payload[20:], payload[9]
        pad = (-(len(payload) + 2)) & 3
        how = rng.choice(("pad_bytes", "pad_length", "dummy", "next_header", "misaligned", "tfc"))
        pad_bytes = bytes(range(1, pad + 1))
        if how == "pad_bytes":  # 1..4 pad bytes, one of them not the RFC 4303 §2.4 sequence 1, 2, 3...
            pad = pad or 4
            pad_bytes = bytearray(range(1, pad + 1))
            pad_bytes[rng.randrange(pad)] ^= rng.randint(1, 255)
        elif how == "pad_length":  # a pad length the packet cannot hold, no pad bytes
            pad_bytes, pad = b"", rng.choice((255, 254, 253, 252))
            payload = payload[:len(payload) - ((len(payload) + 2) & 3)]
        elif how == "dummy":
            nh = 59
        elif how == "next_header":
            nh = rng.choice((17, 6, 41, 4 if p.mode == "transport" else 17))
        elif how == "misaligned":
            pad_bytes, pad = bytes(range(1, pad + 2)), pad + 1
        elif how == "tfc" and p.mode == "tunnel":
            payload += bytes(4 * rng.randint(1, 20))
        return [self._seal(p, bytes(payload) + bytes(pad_bytes) + bytes((pad, nh)))]

    def _truncated(self):
        rng = self.rng
        p, frame = self._esp_frame()
        l2 = l2_length(frame)
        cut = rng.randint(1, 40)
        packet = frame[l2:-cut] if cut < len(frame) - l2 - 20 else frame[l2:l2 + 21]
        if rng.random() < 0.7:  # a consistent IP header around the shortened ESP
            packet = refresh_ip(packet, total=len(packet))
            if p.inb.encap:
                packet = packet[:24] + (len(packet) - 20).to_bytes(2, "big") + packet[26:]
        return [frame[:l2] + packet]

    def _bad_ip(self):
        rng = self.rng
        frame = bytearray(self._esp_frame()[1])
        l2 = l2_length(frame)
        how = rng.choice(("version", "ihl", "total_long", "checksum"))
        if how == "version":
            frame[l2] = 0x65
        elif how == "ihl":
            frame[l2] = 0x40 | rng.randint(0, 4)
        elif how == "total_long":
            total = len(frame) - l2 + rng.randint(1, 64)
            frame[l2:] = refresh_ip(bytes(frame[l2:]), total=total)
        else:
            frame[l2 + 10] ^= 0xFF
        return [bytes(frame)]

    def _esp_fragment(self):
        frame = self._esp_frame()[1]
        l2 = l2_length(frame)
        return [frame[:l2] + refresh_ip(frame[l2:], frag=self.rng.choice((0x2000, 0x0010, 0x2001)))]

    def _unknown_spi(self):
        rng = self.rng
        p, frame = self._esp_frame()
        known = {q.inb.spi for q in self.mix.pairs}
        while True:
            spi = rng.randint(256, 0xFFFFFFFF)
            if rng.random() < 0.5:  # a known SPI but for one bit
                spi = rng.choice(sorted(known)) ^ 1 << rng.randrange(32)
            if spi not in known and spi >= 256:
                break
        lo, hi = self._layout(p, frame)["spi"]
        return [frame[:lo] + spi.to_bytes(4, "big") + frame[hi:]]

    def _wrong_encap(self):
        p, frame = self._esp_frame()
        l2 = l2_length(frame)
        ihl = (frame[l2] & 15) * 4
        header, body = frame[l2:l2 + ihl], frame[l2 + ihl:]
        if p.inb.encap:  # the UDP header removed: plain ESP for a NAT-T SA
            body, proto = body[8:], ESP
        else:  # ESP-in-UDP for an SA without NAT-T
            body, proto = struct.pack("!HHHH", 4500, 4500, 8 + len(body), 0) + body, UDP
        return [frame[:l2] + refresh_ip(header, proto=proto, total=ihl + len(body)) + body]

    def _udp(self, sport, dport, payload, src=None) -> bytes:
        p = self.rng.choice(self.mix.pairs)
        seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
        return ethernet(ip_header(src or p.peer, ADDR_A, UDP, 20 + len(seg)) + seg, self.vlan(), src=MAC_B,
                        dst=MAC_A)

    def _ike500(self):
        port = self.rng.randint(1024, 65535)
        sport, dport = self.rng.choice(((500, 500), (port, 500), (500, port)))
        return [self._udp(sport, dport, self.rng.randbytes(self.rng.randint(28, 600)))]

    def _ike4500(self):
        return [self._udp(self.rng.choice((4500, self.rng.randint(1024, 65535))), 4500,
                          bytes(4) + self.rng.randbytes(self.rng.randint(28, 600)))]

    def _keepalive(self):
        return [self._udp(self.rng.choice((4500, self.rng.randint(1024, 65535))), 4500, b"\xff")]

    def _short4500(self):
        rng = self.rng
        if rng.random() < 0.5:  # UDP length not matching the IP packet
            frame = bytearray(self._udp(4500, 4500, rng.randbytes(rng.randint(8, 100))))
            l2 = l2_length(frame)
            ulen = int.from_bytes(frame[l2 + 24:l2 + 26], "big")
            frame[l2 + 24:l2 + 26] = (ulen + rng.choice((-1, 1, 8, -8))).to_bytes(2, "big")
            return [bytes(frame)]
        payload = rng.randbytes(rng.randint(1, 7))
        return [self._udp(4500, 4500, b"\xfe" if payload == b"\xff" else payload)]

    def _cleartext(self):
        rng = self.rng
        p = rng.choice(self.mix.pairs)
        vlan = self.vlan()
        size = frame_size(rng, 0) - 18
        src, dst, proto = rng.choice((
            (f"10.2.200.{rng.randint(1, 254)}", f"10.1.200.{rng.randint(1, 254)}", rng.choice((UDP, TCP))),  # bypass
            (p.host_b(rng), p.host_a(rng), UDP),  # must have been protected
            (f"203.0.113.{rng.randint(1, 254)}", f"10.1.{rng.randint(0, 255)}.1", ICMP),  # ICMP bypass
            (f"203.0.113.{rng.randint(1, 254)}", f"10.1.{rng.randint(0, 255)}.1", TCP),  # default: discard
        ))
        return [ethernet(ip_packet(rng, size, src, dst, proto), vlan, src=MAC_B, dst=MAC_A)]

    def _arp(self):
        return [ethernet(struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + MAC_B + _addr("198.51.100.1") + MAC_A
                         + _addr(ADDR_A), ethertype=0x0806, src=MAC_B, dst=MAC_A)]

    def _ipv6(self):
        return [ethernet(b"\x60" + self.rng.randbytes(self.rng.randint(39, 300)), ethertype=0x86DD, src=MAC_B,
                         dst=MAC_A)]

    def _garbage(self):
        rng = self.rng
        frame = rng.randbytes(rng.randint(1, 300))
        if len(frame) >= 14 and rng.random() < 0.5:
            frame = frame[:12] + rng.choice((b"\x08\x00", b"\x81\x00", b"\x86\xdd")) + frame[14:]
        return [frame]


class _HostGen(_Gen):
    """The management CPU -> host_i: IKE to the peers, now and then something else."""

    def __init__(self, mix):
        super().__init__(mix, "host")

    def next(self) -> list[bytes]:
        rng = self.rng
        p = rng.choice(self.mix.pairs)
        r = rng.random()
        if r < 0.9:
            marker, port = ((b"", 500), (bytes(4), 4500))[rng.random() < 0.5]
            payload = marker + rng.randbytes(rng.randint(28, 1200))
            seg = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
            return [ethernet(ip_header(ADDR_A, p.peer, UDP, 20 + len(seg), ident=rng.getrandbits(16)) + seg)]
        return [rng.randbytes(rng.randint(1, 200))]
