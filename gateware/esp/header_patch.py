"""Rewrite an IPv4 header's total length, protocol and header checksum in passing (transport
mode, RFC 4303 §3.1.1 and §3.4.4: the outer header's protocol becomes ESP/UDP or the next
header, its length the new packet's).

The checksum is updated incrementally (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m')) from the old
length, protocol and checksum read out of the frame as it passes, so no record needs them.
The TTL shares a 16-bit word with the protocol and cancels out of ~m + m'. For a header whose
old checksum is correct the result equals a checksum computed from scratch (RFC 1071; the
model's `ipv4.rewrite`): the sum is right modulo 0xffff whichever form (0x0000 or 0xffff) the
old checksum of a zero sum took, and as ~proto alone is at least 0xff00 the sum is never zero, so
it folds into 1..0xffff as a fresh sum does and the checksum is never 0xffff (RFC 1624 §3).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature

PatchLayout = data.StructLayout({
    "l2_len": 5,  # offset of the IPv4 header: 14, or 18 with a VLAN tag
    "enable": 1,  # 0: the frame passes unchanged
    "total_length": 16,
    "proto": 8,
})

# header byte offsets (RFC 791 §3.1)
FIELDS = {"length_hi": 2, "length_lo": 3, "proto": 9, "checksum_hi": 10, "checksum_lo": 11}


class HeaderPatch(wiring.Component):
    """Frames from `i` to `o` (one register stage, full rate), each patched as the `patch`
    record says; a record is taken with its frame's last beat and must be valid during the frame.
    """

    def __init__(self, width: int = 16):
        if any((l2 + FIELDS["checksum_hi"]) // width != (l2 + FIELDS["checksum_lo"]) // width for l2 in (14, 18)):
            raise ValueError(f"width: {width} splits the checksum across beats")
        self.width = width
        super().__init__({"i": In(packet_signature(width)), "patch": In(stream.Signature(PatchLayout)),
                          "o": Out(packet_signature(width))})

    def elaborate(self, platform):
        m = Module()
        width, beat, patch = self.width, self.i.payload, self.patch.payload
        positions = {tag: {name: divmod(l2 + offset, width) for name, offset in FIELDS.items()}
                     for tag, l2 in ((0, 14), (1, 18))}
        beats = max(b for fields in positions.values() for b, _ in fields.values()) + 1

        advance = ~self.o.valid | self.o.ready
        m.d.comb += [self.i.ready.eq(advance & self.patch.valid),
                     self.patch.ready.eq(self.i.valid & self.i.ready & beat.last)]
        take = self.i.valid & self.i.ready

        index = Signal(range(beats + 1))  # beats of the frame taken so far, saturating
        at = Mux(beat.first, 0, index)
        with m.If(take & (at < beats)):
            m.d.sync += index.eq(at + 1)

        # each field's old byte: from this beat when it carries it, else as kept from an earlier one
        tagged = patch.l2_len == 18
        kept = {name: Signal(8, name=f"old_{name}") for name in FIELDS}
        old = {name: Signal(8, name=f"now_{name}") for name in FIELDS}
        here = {name: Signal(name=f"here_{name}") for name in FIELDS}
        for tag, fields in positions.items():
            with m.If(tagged == tag):
                for name, (b, lane) in fields.items():
                    m.d.comb += [here[name].eq(at == b),
                                 old[name].eq(Mux(at == b, beat.data.word_select(lane, 8), kept[name]))]
        with m.If(take):
            m.d.sync += [kept[name].eq(old[name]) for name in FIELDS]

        # RFC 1624 eqn. 3, folded twice to 16 bits: ~HC + ~length + length' + ~proto + proto'
        old_length, old_checksum = Cat(old["length_lo"], old["length_hi"]), Cat(old["checksum_lo"], old["checksum_hi"])
        total = ~old_checksum + ~old_length + patch.total_length + Cat(~old["proto"], Const(0xFF, 8)) + patch.proto
        folded = Signal(16)
        once = total[:16] + total[16:]
        m.d.comb += folded.eq(once[:16] + once[16:])
        checksum = ~folded

        new = {"length_hi": patch.total_length[8:], "length_lo": patch.total_length[:8], "proto": patch.proto,
               "checksum_hi": checksum[8:], "checksum_lo": checksum[:8]}
        out = Signal(8 * width)
        m.d.comb += out.eq(beat.data)
        for tag, fields in positions.items():
            with m.If(patch.enable & (tagged == tag)):
                for name, (_, lane) in fields.items():
                    with m.If(here[name]):
                        m.d.comb += out.word_select(lane, 8).eq(new[name])

        with m.If(advance):
            m.d.sync += self.o.valid.eq(self.i.valid & self.patch.valid)
            with m.If(take):
                m.d.sync += [self.o.payload.eq(beat), self.o.payload.data.eq(out)]
        return m
