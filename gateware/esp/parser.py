"""Frame parser: the fields every later stage decides on, one record per frame.

It watches frames go by on the packet bus (passing them on unchanged, with no added latency)
and, after a frame's last beat, emits a `Parsed` record: Ethernet II with at most one 802.1Q
tag (IEEE 802.1Q), IPv4 with its RFC 791 checks (version, IHL >= 5, total length within the
frame, header checksum per RFC 1071), the transport ports, and - for ESP arriving directly or
inside UDP (RFC 4303 §2, RFC 3948 §2.1) - SPI, sequence number and explicit IV. The checks are
those of the reference model (`espline.sim.model.frame` and `.ipv4`), bit for bit.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature

ETH_IPV4, ETH_IPV6, VLAN_TAGS = 0x0800, 0x86DD, (0x8100, 0x88A8)
HEADER_BYTES = 18 + 60 + 8 + 16  # tagged Ethernet, longest IPv4 header, UDP, ESP header and IV

Parsed = data.StructLayout({
    "length": 16,  # frame bytes
    "l2_len": 5,  # 14, or 18 with a VLAN tag
    "ipv4": 1,  # EtherType IPv4 (only then do the fields below mean anything)
    "ipv6": 1,
    "malformed": 1,  # runt, stacked tags, or an IPv4 header failing a check
    "ihl": 4,  # IPv4 header length in 32-bit words
    "total_length": 16,
    "tos": 8,
    "fragment": 1,  # MF set or a fragment offset
    "proto": 8,
    "src": 32,
    "dst": 32,
    "has_ports": 1,  # TCP, UDP or SCTP, unfragmented, long enough
    "sport": 16,
    "dport": 16,
    "udp_length": 16,
    "l4": 8 * 24,  # the first 24 bytes after the IPv4 header, in wire order (byte 0 lowest)
})


def big_endian(value, offset: int, size: int):
    """Bytes offset..offset+size of a little-lane byte vector, as a big-endian number."""
    return Cat(*[value[8 * (offset + i) : 8 * (offset + i + 1)] for i in reversed(range(size))])


class FrameParser(wiring.Component):
    """Pass frames from `i` to `o` unchanged; emit one `Parsed` record per frame on `parsed`."""

    def __init__(self, width: int = 16, records: int = 4):
        self.width = width
        self.records = records
        super().__init__({"i": In(packet_signature(width)), "o": Out(packet_signature(width)),
                          "parsed": Out(stream.Signature(Parsed))})

    def elaborate(self, platform):
        m = Module()
        width = self.width
        beats = -(-HEADER_BYTES // width)
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=Parsed.size, depth=self.records)

        # capture the header bytes and count the frame as it passes
        header = Signal(8 * width * beats)
        beat, length, done = Signal(range(beats + 1)), Signal(17), Signal()
        take = self.i.valid & self.i.ready
        passable = ~self.i.payload.last | (queue.w_rdy & ~done)  # a last beat needs room for its record
        m.d.comb += [
            self.o.valid.eq(self.i.valid & passable),
            self.o.payload.eq(self.i.payload),
            self.i.ready.eq(self.o.ready & passable),
        ]
        m.d.sync += done.eq(take & self.i.payload.last)
        with m.If(take):
            m.d.sync += length.eq(Mux(self.i.payload.first, 0, length) + self.i.payload.nbytes)
            index = Mux(self.i.payload.first, 0, beat)
            with m.If(index < beats):
                with m.Switch(index):
                    for b in range(beats):
                        with m.Case(b):
                            m.d.sync += header[8 * width * b : 8 * width * (b + 1)].eq(self.i.payload.data)
                m.d.sync += beat.eq(index + 1)

        # decode (the cycle after the last beat, from the registered header)
        p = Signal(Parsed)
        ethertype, inner_type = big_endian(header, 12, 2), big_endian(header, 16, 2)
        tagged = (ethertype == VLAN_TAGS[0]) | (ethertype == VLAN_TAGS[1])
        stacked = (inner_type == VLAN_TAGS[0]) | (inner_type == VLAN_TAGS[1])
        kind = Mux(tagged, inner_type, ethertype)
        l2_len = Mux(tagged, 18, 14)
        ip = Signal(8 * 60)
        m.d.comb += ip.eq(Mux(tagged, header[8 * 18 : 8 * 78], header[8 * 14 : 8 * 74]))
        ihl, total = ip[0:4], big_endian(ip, 2, 2)
        flags_frag = big_endian(ip, 6, 2)

        # RFC 1071: the one's-complement sum of the header's 16-bit words is 0xffff
        words = [Mux(i < 2 * ihl, big_endian(ip, 2 * i, 2), 0) for i in range(30)]
        total_sum = Signal(21)
        m.d.comb += total_sum.eq(sum(words))
        folded = Signal(17)
        m.d.comb += folded.eq(total_sum[:16] + total_sum[16:])
        checksum_ok = (folded[:16] + folded[16]) == 0xFFFF

        is_ipv4 = ~stacked & (kind == ETH_IPV4)
        ip_ok = ((ip[4:8] == 4) & (ihl >= 5) & (length >= l2_len + 20) & (total >= 4 * ihl)
                 & (total <= length - l2_len) & checksum_ok)
        runt = (length < 14) | (tagged & (length < 18))

        l4 = Signal(8 * 24)
        with m.Switch(Cat(ihl, tagged)):
            for words_ in range(5, 16):
                for tag in (0, 1):
                    with m.Case(words_ | (tag << 4)):
                        offset = (18 if tag else 14) + 4 * words_
                        m.d.comb += l4.eq(header[8 * offset : 8 * (offset + 24)])
        proto = ip[72:80]
        fragment = (flags_frag[13] | (flags_frag[:13] != 0))
        m.d.comb += [
            p.length.eq(length),
            p.l2_len.eq(l2_len),
            p.ipv4.eq(is_ipv4),
            p.ipv6.eq(~stacked & (kind == ETH_IPV6)),
            p.malformed.eq(runt | (tagged & stacked) | (is_ipv4 & ~ip_ok)),
            p.ihl.eq(ihl),
            p.total_length.eq(total),
            p.tos.eq(ip[8:16]),
            p.fragment.eq(fragment),
            p.proto.eq(proto),
            p.src.eq(big_endian(ip, 12, 4)),
            p.dst.eq(big_endian(ip, 16, 4)),
            p.has_ports.eq(((proto == 6) | (proto == 17) | (proto == 132)) & ~fragment & (total >= 4 * ihl + 4)),
            p.sport.eq(big_endian(l4, 0, 2)),
            p.dport.eq(big_endian(l4, 2, 2)),
            p.udp_length.eq(big_endian(l4, 4, 2)),
            p.l4.eq(l4),
            queue.w_data.eq(p),
            queue.w_en.eq(done),
        ]
        m.d.comb += [
            self.parsed.valid.eq(queue.r_rdy),
            self.parsed.payload.eq(queue.r_data),
            queue.r_en.eq(self.parsed.ready),
        ]
        return m
