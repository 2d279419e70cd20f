"""Frame parser: the fields every later stage decides on, one record per frame.

It watches frames go by on the packet bus (passing them on unchanged, with no added latency)
and, after a frame's last beat, emits a `Parsed` record: Ethernet II with at most one 802.1Q
tag (IEEE 802.1Q), IPv4 with its RFC 791 checks (version, IHL >= 5, total length within the
frame, header checksum per RFC 1071), the transport ports, and - for ESP arriving directly or
inside UDP (RFC 4303 §2, RFC 3948 §2.1) - SPI, sequence number and explicit IV. The checks are
those of the reference model (`espline.sim.model.frame` and `.ipv4`), bit for bit.

Every frame gets its record, whatever its length (docs/invariants.md): the length counter
saturates, so a frame longer than `max_frame` (docs/frames.md) is malformed however long it
is, and the record carries the frame's number (`tag`), as the packet buffer behind counts it.
"""

from math import gcd

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import FRAME_TAG, packet_signature
from .ipv4_checksum import HeaderChecksum
from .ipv4_header import IPv4Decoder, big_endian, fields_layout

ETH_IPV4, ETH_IPV6, VLAN_TAGS = 0x0800, 0x86DD, (0x8100, 0x88A8)
HEADER_BYTES = 18 + 60 + 8 + 16  # tagged Ethernet, longest IPv4 header, UDP, ESP header and IV

Parsed = data.StructLayout({
    "tag": FRAME_TAG,  # the frame's number in this direction
    "length": 16,  # frame bytes
    "l2_len": 5,  # 14, or 18 with a VLAN tag
    "ipv4": 1,  # EtherType IPv4 (only then do the fields below mean anything)
    "ipv6": 1,
    "malformed": 1,  # runt, longer than max_frame, stacked tags, or an IPv4 header failing a check
    # the IPv4 header's fields (`ipv4_header.fields_layout`), l4 = the first 24 bytes after it
    **{name: field.shape for name, field in fields_layout(24) if name != "ok"},
    "udp_length": 16,
})


class FrameParser(wiring.Component):
    """Pass frames from `i` to `o` unchanged; emit one `Parsed` record per frame on `parsed`."""

    def __init__(self, width: int = 16, records: int = 4, *, max_frame: int = 9216):
        if not 64 <= max_frame < 2**16 - 1:
            raise ValueError(f"max_frame: {max_frame} is not 64..65534")
        if width % 2 or 18 // width == 34 // width:  # IPv4 header words across beats; IHL too late
            raise ValueError(f"width: {width} is not an even number of bytes up to 34")
        self.width, self.records, self.max_frame = width, records, max_frame
        super().__init__({"i": In(packet_signature(width)), "o": Out(packet_signature(width)),
                          "parsed": Out(stream.Signature(Parsed))})

    def elaborate(self, platform):
        m = Module()
        width, data = self.width, self.i.payload.data
        beats = -(-HEADER_BYTES // width)  # the beats holding the bytes a record needs
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=Parsed.size, depth=self.records)

        # count the frame as it passes
        beat, done = Signal(range(beats + 1)), Signal()
        length = Signal(range(self.max_frame + 2))  # saturates at max_frame + 1: oversize
        starts, tag = Signal(init=1), Signal(FRAME_TAG)  # the next beat starts a frame; its number
        take = self.i.valid & self.i.ready
        passable = ~self.i.payload.last | (queue.w_rdy & ~done)  # a last beat needs room for its record
        m.d.comb += [
            self.o.valid.eq(self.i.valid & passable),
            self.o.payload.eq(self.i.payload),
            self.i.ready.eq(self.o.ready & passable),
        ]
        m.d.sync += done.eq(take & self.i.payload.last)
        index = Mux(starts, 0, beat)
        with m.If(take):
            total = Mux(starts, 0, length) + self.i.payload.nbytes
            m.d.sync += [length.eq(Mux(total > self.max_frame, self.max_frame + 1, total)),
                         starts.eq(self.i.payload.last)]
            with m.If(self.i.payload.last):
                m.d.sync += tag.eq(tag + 1)
            with m.If(index < beats):
                m.d.sync += beat.eq(index + 1)

        # keep what a record needs as its beats pass (past a frame's end, an earlier frame's): what
        # the type fields (bytes 12..13 and 16..17) say, the IPv4 header's first 20 bytes behind the
        # Ethernet header of 14 or 18 bytes, and the 24 bytes after its options
        ip_bytes, l4 = Signal(8 * 20), Signal(8 * 24)

        def at(position):
            """Whether this beat holds the frame's byte at a constant position; that byte."""
            number, lane = divmod(position, width)
            return index == number, data.word_select(lane, 8)

        def keep(target, byte, when, value):
            with m.If(take & when):
                m.d.sync += target.word_select(byte, 8).eq(value)

        def kinds(position):
            """Whether the type field at a constant position names a tag, IPv4, IPv6: registered as its
            beat passes (its two bytes share a beat: even width and position); now, in that beat."""
            here, _ = at(position)
            value = big_endian(data, position % width, 2)
            now = Cat(value.matches(*VLAN_TAGS), value == ETH_IPV4, value == ETH_IPV6)
            kept = Signal(3, name=f"kinds_{position}")
            with m.If(take & here):
                m.d.sync += kept.eq(now)
            return kept, Mux(here, now, kept)

        # the EtherType (bytes 12..13) and, behind a tag, the inner one (16..17)
        outer, outer_now = kinds(12)
        inner, _ = kinds(16)
        tagged, tagged_now = outer[0], outer_now[0]
        for byte in range(20):
            (here, value), (here_tagged, value_tagged) = at(14 + byte), at(18 + byte)
            keep(ip_bytes, byte, Mux(tagged_now, here_tagged, here), Mux(tagged_now, value_tagged, value))
        # the bytes after the options start 4 x IHL bytes behind the IPv4 header (IHL and the tag
        # kept by then: byte 34 on is past their beats), at a position 2 modulo 4: in lanes fixed
        # modulo 4
        behind = index * width - (Mux(tagged, 18, 14) + 4 * ip_bytes[0:4])
        for byte in range(24):
            for lane in range((2 + byte) % gcd(width, 4), width, gcd(width, 4)):
                keep(l4, byte, behind == byte - lane, data.word_select(lane, 8))

        # the IPv4 header checksum, summed as the frame passes, behind either Ethernet header
        m.submodules.checksum = checksum = HeaderChecksum(width, (14, 18))
        m.d.comb += [checksum.beat.eq(self.i.payload), checksum.take.eq(take), checksum.choice.eq(tagged_now)]

        # decode (the cycle after the last beat, from the bytes kept)
        p = Signal(Parsed)
        # a second tag matters only behind a first (bytes past a frame's end are stale)
        stacked = tagged & inner[0]
        l2_len = Mux(tagged, 18, 14)
        m.submodules.ipv4 = decoder = IPv4Decoder(l4_bytes=24)
        m.d.comb += [
            decoder.header.eq(ip_bytes),
            decoder.l4.eq(l4),
            decoder.available.eq(length - l2_len),
            decoder.checksum_ok.eq(checksum.ok),  # the frame's verdict, in the cycle after its last beat
        ]
        ip = decoder.fields
        is_ipv4 = ~stacked & Mux(tagged, inner[1], outer[1])
        runt = (length < 14) | (tagged & (length < 18))
        m.d.comb += [
            p.tag.eq(tag - 1),  # counted on at the last beat
            p.length.eq(length),
            p.l2_len.eq(l2_len),
            p.ipv4.eq(is_ipv4),
            p.ipv6.eq(~stacked & Mux(tagged, inner[2], outer[2])),
            p.malformed.eq(runt | (length > self.max_frame) | stacked | (is_ipv4 & ~ip.ok)),
            *[getattr(p, name).eq(getattr(ip, name)) for name, _ in ip.shape() if name != "ok"],
            p.udp_length.eq(big_endian(ip.l4, 4, 2)),
            queue.w_data.eq(p),
            queue.w_en.eq(done),
        ]
        m.d.comb += [
            self.parsed.valid.eq(queue.r_rdy),
            self.parsed.payload.eq(queue.r_data),
            queue.r_en.eq(self.parsed.ready),
        ]
        return m
