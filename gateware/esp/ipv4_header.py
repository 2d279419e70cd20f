"""IPv4 header decode and checks (RFC 791 §3.1), combinational.

One decoder serves the frame parser (the outer packet) and the decapsulation (the inner packet
of tunnel mode, RFC 4303 §3.1.2, from the first plaintext bytes). Its checks are those of the
reference model's `ipv4.header_length`: version 4, IHL >= 5, at least 20 bytes available, total
length covering the header and within the available bytes, and a correct header checksum
(RFC 1071), which its user sums as the header streams by (`ipv4_checksum.HeaderChecksum`). The
user also picks out the bytes after the header's options (as they stream by, or `after_header`).
"""

from amaranth.hdl import Cat, Const, Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

PORTED = (6, 17, 132)  # TCP, UDP, SCTP: the protocols whose selectors name ports (RFC 4301 §4.4.1.1)


def big_endian(value, offset: int, size: int):
    """Bytes offset..offset+size of a little-lane byte vector, as a big-endian number."""
    return Cat(*[value[8 * (offset + i) : 8 * (offset + i + 1)] for i in reversed(range(size))])


def end_around_carry(total):
    """RFC 1071 §1: an integer sum of 16-bit values (< 2**32) folded to their one's-complement sum."""
    for _ in range(2):  # two folds cover up to 2**16 words
        total = total[:16] + total[16:]
    return total[:16]


def word_sum(words):
    """The integer sum of `words`, as a balanced tree of adders (as deep as log2 of their count)."""
    words = list(words)
    while len(words) > 1:
        words = [*(words[i] + words[i + 1] for i in range(0, len(words) - 1, 2)), *words[len(words) & ~1:]]
    return words[0]


def ones_complement_sum(words):
    """RFC 1071 §1: the one's-complement sum of 16-bit values, folded to 16 bits."""
    return end_around_carry(word_sum(words))


def fields_layout(l4_bytes: int) -> data.StructLayout:
    return data.StructLayout({
        "ok": 1,  # every check passed (only then do the fields below mean anything)
        "ihl": 4,  # header length in 32-bit words
        "total_length": 16,
        "tos": 8,
        "fragment": 1,  # MF set or a fragment offset
        "df": 1,  # don't fragment
        "proto": 8,
        "src": 32,
        "dst": 32,
        "has_ports": 1,  # TCP, UDP or SCTP, unfragmented, total length covering the ports
        "sport": 16,
        "dport": 16,
        "l4": 8 * l4_bytes,  # the bytes after the header, in wire order (byte 0 lowest)
    })


def after_header(m, data, target):
    """`target` := the bytes of `data` (an IPv4 header and what follows, byte 0 lowest) after the
    header's 4 x IHL bytes, zeros past the end of `data` (comb assignments added to `m`)."""
    size = len(target) // 8
    padded = Cat(data, Const(0, 8 * max(0, 60 + size - len(data) // 8)))
    with m.Switch(data[0:4]):
        for words in range(5, 16):
            with m.Case(words):
                m.d.comb += target.eq(padded[8 * 4 * words : 8 * (4 * words + size)])


class IPv4Decoder(wiring.Component):
    """Decode an IPv4 header: `header` its first 20 bytes (byte 0 in bits 7:0), `l4` the
    `l4_bytes` after its 4 x IHL bytes, `available` the bytes of the packet, `checksum_ok`
    whether the header's checksum verifies (asked only of a header within the `available`
    bytes); `fields` is a `fields_layout(l4_bytes)`.

    Bytes at and past `available` do not affect `ok` or any field it vouches for.
    """

    def __init__(self, l4_bytes: int = 24):
        if l4_bytes < 4:
            raise ValueError(f"l4_bytes: {l4_bytes} cannot hold the ports (4)")
        self.l4_bytes = l4_bytes
        super().__init__({"header": In(8 * 20), "l4": In(8 * l4_bytes), "available": In(17),
                          "checksum_ok": In(1), "fields": Out(fields_layout(l4_bytes))})

    def elaborate(self, platform):
        m = Module()
        ip, f = self.header, self.fields
        ihl, total = ip[0:4], big_endian(ip, 2, 2)
        flags_frag = big_endian(ip, 6, 2)
        proto = ip[72:80]
        fragment = flags_frag[13] | (flags_frag[:13] != 0)
        m.d.comb += [
            f.ok.eq((ip[4:8] == 4) & (ihl >= 5) & (self.available >= 20) & (total >= 4 * ihl)
                    & (total <= self.available) & self.checksum_ok),
            f.ihl.eq(ihl),
            f.total_length.eq(total),
            f.tos.eq(ip[8:16]),
            f.fragment.eq(fragment),
            f.df.eq(flags_frag[14]),
            f.proto.eq(proto),
            f.src.eq(big_endian(ip, 12, 4)),
            f.dst.eq(big_endian(ip, 16, 4)),
            f.has_ports.eq(Cat(*[proto == p for p in PORTED]).any() & ~fragment & (total >= 4 * ihl + 4)),
            f.l4.eq(self.l4),
            f.sport.eq(big_endian(self.l4, 0, 2)),
            f.dport.eq(big_endian(self.l4, 2, 2)),
        ]
        return m
