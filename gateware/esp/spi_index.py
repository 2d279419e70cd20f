"""The inbound SPI index: which SA table entry holds the inbound SA of an SPI (RFC 4303 §2.1),
refusing an insert where `espline.regmap.spi_index` does - two candidate rows per SPI (CRC-32
and CRC-32C of the SPI), `WAYS` slots a row, twice as many slots as SAs (docs/sa-table.md).

The rows exist only as counts of their used slots: which slot an SPI takes within its row never
shows (the SPIs of inbound SAs are unique, the driver's rule), so each SA table index keeps the
SPI it holds and the row that counts it, and a lookup compares the SPI with every index's at
once (at 16 SAs, 16 comparators cost less than reading and searching two rows).

`find`: the SPI on `spi`, the answer (`hit`, `index`: the lowest index holding the SPI) one cycle
later; a lookup every cycle. `change`: insert the SPI on `spi` at one index, or remove
whatever SPI an index holds (none: nothing changes; `spi` unused) - the SA table's writes: an
insert only at an index holding none, a commit being of a free entry; taken in its third
cycle (`ready`: the rows' hashes, then their counts compared, each registered). An insert that
finds both rows full changes nothing and is `refused`.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
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
        super().__init__({
            "find": Out(find_signature(n_sa)),
            "change": In(stream.Signature(data.StructLayout({"insert": 1, "spi": 32, "index": range(n_sa)}))),
            "refused": Out(1),  # with `change.ready`: the insert found no free slot
        })

    def elaborate(self, platform):
        m = Module()
        held = data.StructLayout({"valid": 1, "spi": 32, "row": range(self.n_rows)})  # row: the row counting it
        spis = Array(Signal(held, name=f"spi_of_{k}") for k in range(self.n_sa))
        used = Array(Signal(range(WAYS + 1), name=f"used_{r}") for r in range(self.n_rows))

        looked_up = Signal(32)
        m.d.sync += looked_up.eq(self.find.spi)
        for k in reversed(range(self.n_sa)):  # the lowest index wins: its assignment comes last
            with m.If(spis[k].valid & (spis[k].spi == looked_up)):
                m.d.comb += [self.find.hit.eq(1), self.find.index.eq(k)]

        change = self.change.payload
        row_of = [Signal(range(self.n_rows), name=f"row_{k}") for k in range(2)]  # the rows of `change.spi`
        read, decided = Signal(), Signal()  # `row_of` holds the change's rows; then the choice below
        m.d.sync += [read.eq(self.change.valid & ~read & ~decided), decided.eq(read)]
        m.d.sync += [h.eq(row_hash(change.spi, polynomial, self.n_rows))
                     for h, polynomial in zip(row_of, POLYNOMIALS, strict=True)]
        second = Signal()  # the insert goes to the second row: it has fewer used slots
        full = [Signal(name=f"full_{k}") for k in range(2)]
        m.d.sync += [second.eq(used[row_of[1]] < used[row_of[0]]),
                     *[f.eq(used[row] == WAYS) for f, row in zip(full, row_of, strict=True)]]
        chosen = Mux(second, row_of[1], row_of[0])
        # what the change's index holds, registered as its rows' hashes are (it changes only when a
        # change is taken, two cycles before the next is decided)
        entry = Signal(held)
        m.d.sync += entry.eq(spis[change.index])
        written = spis[change.index]
        with m.If(self.change.valid & decided):
            m.d.comb += self.change.ready.eq(1)
            with m.If(change.insert):
                with m.If(Mux(second, full[1], full[0])):
                    m.d.comb += self.refused.eq(1)
                with m.Else():
                    m.d.sync += [used[chosen].eq(used[chosen] + 1),
                                 written.valid.eq(1), written.spi.eq(change.spi), written.row.eq(chosen)]
            with m.Elif(entry.valid):
                m.d.sync += [used[entry.row].eq(used[entry.row] - 1), written.valid.eq(0)]
        return m
