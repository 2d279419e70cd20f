"""The inbound SPI index: which SA table entry holds the inbound SA of an SPI (RFC 4303 §2.1),
as `espline.regmap.spi_index` states it - two candidate rows per SPI (CRC-32 and CRC-32C of the
SPI), `WAYS` slots a row, twice as many slots as SAs (docs/sa-table.md).

`find`: the SPI on `spi`, the answer (`hit`, `index`) one cycle later; a lookup every cycle.
`change`: insert or remove one SPI (the SA table's writes); it takes the row read ports for two
cycles, so no lookup is answered meanwhile (the SA table writes only while no frame is
looked up). An insert that finds both rows full changes nothing and is `refused`.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from espline.regmap.spi_index import POLYNOMIALS, WAYS, crc32, rows


def find_signature(n_sa: int) -> wiring.Signature:
    """A lookup, from the index's side: `spi` in, `hit` and `index` out one cycle later."""
    return wiring.Signature({"spi": In(32), "hit": Out(1), "index": Out(range(n_sa))})


def row_hash(spi, polynomial: int, n_rows: int):
    """`crc32(spi, polynomial) % n_rows` as an XOR network (the CRC is linear in the SPI)."""
    bits = (n_rows - 1).bit_length()
    masks = [sum(1 << i for i in range(32) if crc32(1 << i, polynomial) >> j & 1) for j in range(bits)]
    return Cat(*[(spi & mask).xor() for mask in masks])


class SpiIndex(wiring.Component):
    def __init__(self, n_sa: int):
        self.n_sa, self.n_rows = n_sa, rows(n_sa)
        self.slot = data.StructLayout({"valid": 1, "spi": 32, "index": range(n_sa)})
        super().__init__({
            "find": Out(find_signature(n_sa)),
            "change": In(stream.Signature(data.StructLayout({"insert": 1, "spi": 32, "index": range(n_sa)}))),
            "refused": Out(1),  # with `change.ready`: the insert found no free slot
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.table = table = Memory(shape=data.ArrayLayout(self.slot, WAYS), depth=self.n_rows, init=[])
        write, reads = table.write_port(), [table.read_port(), table.read_port()]
        change = self.change.payload
        spi = Mux(self.change.valid, change.spi, self.find.spi)
        row_of = [Signal(range(self.n_rows), name=f"h{k}") for k in range(2)]
        for h, port, polynomial in zip(row_of, reads, POLYNOMIALS, strict=True):
            m.d.comb += [h.eq(row_hash(spi, polynomial, self.n_rows)), port.addr.eq(h)]
        candidates = [(k, way, reads[k].data[way]) for k in range(2) for way in range(WAYS)]  # the search order

        looked_up = Signal(32)  # the SPI the rows on the read ports were read for
        m.d.sync += looked_up.eq(self.find.spi)
        for _, _, slot in reversed(candidates):  # the first match wins: its assignment comes last
            with m.If(slot.valid & (slot.spi == looked_up)):
                m.d.comb += [self.find.hit.eq(1), self.find.index.eq(slot.index)]

        read = Signal()  # the rows of `change.spi` are on the read ports
        m.d.sync += read.eq(self.change.valid & ~read)
        used = [sum(reads[k].data[way].valid for way in range(WAYS)) for k in range(2)]
        second = Signal()  # the insert goes to the second row: it has fewer used slots
        m.d.comb += second.eq(used[1] < used[0])
        chosen = Mux(second, reads[1].data.as_value(), reads[0].data.as_value())
        row = data.View(data.ArrayLayout(self.slot, WAYS), chosen)
        new = Signal(self.slot)
        m.d.comb += [new.valid.eq(1), new.spi.eq(change.spi), new.index.eq(change.index)]
        with m.If(self.change.valid & read):
            m.d.comb += self.change.ready.eq(1)
            with m.If(change.insert):
                m.d.comb += [self.refused.eq(1), write.addr.eq(Mux(second, row_of[1], row_of[0]))]
                for way in reversed(range(WAYS)):  # the lowest free slot
                    with m.If(~row[way].valid):
                        m.d.comb += [self.refused.eq(0), write.en.eq(1), write.data.eq(row),
                                     write.data[way].eq(new)]
            with m.Else():
                for k, way, slot in reversed(candidates):
                    with m.If(slot.valid & (slot.spi == change.spi) & (slot.index == change.index)):
                        m.d.comb += [write.en.eq(1), write.addr.eq(row_of[k]), write.data.eq(reads[k].data),
                                     write.data[way].eq(0)]
        return m
