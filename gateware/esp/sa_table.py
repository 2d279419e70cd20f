"""The SA table both directions read (RFC 4301 §4.4.2): one static entry per SA as the CSR
block's `sa_write` carries it, and the inbound SPI index (`spi_index.py`). Each direction keeps
its own dynamic state (sequence number or replay window, counters, lifetime flags) and starts
an entry's afresh when `renewed` names it: from the new SA's starting number (the entry's
`seq`, docs/config.md: replay-oseq out, replay-seq in), counters zero.

Writes (docs/sa-table.md): a pending write raises `hold`, and the directions take no new frame;
the table takes it once every direction is `quiet` (no frame between its SA read and its
write-back), so a frame sees one version of its SA, never half an entry; `renewed` follows a
cycle later, still under `hold`. Commit and delete
write the entry whole and renew it; an inbound SA's commit also inserts its SPI into the index
and is `refused` (nothing written) when the index has no slot for it, a delete removes it. An
update keeps the entry's key and salt and its dynamic state: the sequence number - the GCM IV
(RFC 4106 §3) - continues and the replay window (RFC 4303 §3.4.3) remembers, so never two
frames under one (key, nonce) (docs/invariants.md §7).

The static entries are three memories: the secret members (key and salt), which only commit and
delete write, and the four 64-bit lifetimes, which every reader keeps in registers before it
compares them, in block RAM; the other public ones in distributed RAM. Each has one copy per group of
readers (`copies`, docs/synth.md): the readers of a copy take its read port in turn, the first
first (`sa_fields.share_read_port`); a reader that has it (`granted`) finds its entry on `data`
the next cycle. The first reader of a copy also keeps it there for as long as it keeps its
index on `addr` (the port reads that index whenever no reader asks).
"""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import Dir

from .. import registered_read
from .sa_fields import share_read_port, shared_read_signature
from .spi_index import SpiIndex, find_signature

#: The members of an SA an update keeps: software writes them but never reads them back.
SECRET = ("key", "salt")
#: The lifetimes (RFC 4301 §4.4.2.1), which every reader keeps in registers before comparing them.
LIFETIMES = ("soft_packets", "hard_packets", "soft_bytes", "hard_bytes")


def entry_layout(sa: data.StructLayout) -> data.StructLayout:
    return data.StructLayout({"valid": 1, "sa": sa})


def read_signature(sa: data.StructLayout, n_sa: int) -> wiring.Signature:
    """A read port of the table, from the table's side: asked (`en`) with an index, once `granted`
    its entry out a cycle later."""
    return shared_read_signature(n_sa, entry_layout(sa))


def renew_layout(n_sa: int) -> data.StructLayout:
    """An entry whose dynamic state starts afresh: its index, the new SA's direction, starting
    number and ESN flag."""
    return data.StructLayout({"en": 1, "index": range(n_sa), "dir": Dir, "seq": 64, "esn": 1})


class SaTable(wiring.Component):
    """`copies`: for each reader, the copy of the entries it reads (default: one each)."""

    def __init__(self, write: data.StructLayout, n_sa: int, *, readers: int, directions: int = 2,
                 copies: tuple[int, ...] | None = None):
        self.sa, self.n_sa = write.members["entry"], n_sa
        self.copies = tuple(range(readers)) if copies is None else copies
        if len(self.copies) != readers:
            raise ValueError(f"copies: {self.copies} names no copy for each of {readers} readers")
        super().__init__({
            "write": In(stream.Signature(write)),
            "refused": Out(1),  # with `write.ready`: the index had no slot, nothing was written
            "hold": Out(1), "quiet": In(directions),
            "renewed": Out(renew_layout(n_sa)),
            "read": Out(read_signature(self.sa, n_sa)).array(readers),
            "find": Out(find_signature(n_sa)),
        })

    def elaborate(self, platform):
        m = Module()
        names = [name for name, _ in self.sa]
        # (members, block RAM, written by an update too); the first holds `valid` too
        groups = {"public": ([name for name in names if name not in SECRET + LIFETIMES], False, True),
                  "lifetimes": (LIFETIMES, True, True), "secret": (SECRET, True, False)}
        memories = {}
        for group, (members, block, _) in groups.items():
            layout = data.StructLayout({**({"valid": 1} if group == "public" else {}),
                                        **{name: self.sa[name].shape for name in members}})
            # no entry read in the cycle it is written is used: the table is written only while both
            # directions are quiet
            m.submodules[group] = memories[group] = registered_read.memory(layout, self.n_sa, block=block)
        for copy in sorted(set(self.copies)):
            readers = [port for port, c in zip(self.read, self.copies, strict=True) if c == copy]
            reads, read = {}, {}
            for group, memory in memories.items():
                reads[group], read[group] = registered_read.read_port(m, memory, name=f"{group}_read{copy}")
            grants = share_read_port(m, reads["public"], [(port.en, port.addr) for port in readers])
            m.d.comb += [reads[group].addr.eq(reads["public"].addr) for group in ("lifetimes", "secret")]
            for port, grant in zip(readers, grants, strict=True):
                m.d.comb += [port.granted.eq(grant), port.data.valid.eq(read["public"].valid)]
                for group, (members, _, _) in groups.items():
                    m.d.comb += [getattr(port.data.sa, name).eq(getattr(read[group], name)) for name in members]
        m.submodules.index = index = SpiIndex(self.n_sa)
        wiring.connect(m, wiring.flipped(self.find), index.find)

        w = self.write.payload
        stores = {group: memory.write_port() for group, memory in memories.items()}
        # `renewed` is registered: the directions start the dynamic state a cycle after the write,
        # held for that cycle too, so a frame still sees one version of its SA
        m.d.comb += self.hold.eq(self.write.valid | self.renewed.en)
        m.d.sync += self.renewed.en.eq(0)
        change = index.change.payload
        # a commit of an inbound SA inserts its SPI; a delete removes the SPI its index holds, if any
        inserted = w.valid & ~w.update & (w.entry.flags.dir == Dir.IN)
        removed = ~w.valid
        m.d.comb += [change.insert.eq(inserted), change.spi.eq(w.entry.spi), change.index.eq(w.index)]
        m.d.comb += stores["public"].data.valid.eq(w.valid)
        for group, (members, _, _) in groups.items():
            m.d.comb += stores[group].addr.eq(w.index)
            m.d.comb += [getattr(stores[group].data, name).eq(getattr(w.entry, name)) for name in members]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.write.valid & self.quiet.all()):
                    m.next = "WRITE"
            with m.State("WRITE"):
                m.d.comb += index.change.valid.eq(inserted | removed)
                with m.If(~index.change.valid | index.change.ready):
                    m.d.comb += [self.write.ready.eq(1), self.refused.eq(index.refused)]
                    with m.If(~index.refused):
                        m.d.comb += [stores[group].en.eq(updated | ~w.update)
                                     for group, (_, _, updated) in groups.items()]
                        m.d.sync += [self.renewed.en.eq(~w.update), self.renewed.index.eq(w.index),
                                     self.renewed.dir.eq(w.entry.flags.dir), self.renewed.seq.eq(w.entry.seq),
                                     self.renewed.esn.eq(w.entry.flags.esn)]
                    m.next = "IDLE"
        return m


def client_signature(sa: data.StructLayout, n_sa: int, *, reads: tuple[str, ...], find: bool = False
                     ) -> wiring.Signature:
    """A direction's side of the table: its read ports, by name (and the SPI index's lookup); `hold`
    (take no new frame), `quiet` (no frame between SA read and write-back), `renewed` (start this
    dynamic state afresh)."""
    return wiring.Signature({
        **{name: In(read_signature(sa, n_sa)) for name in reads},
        **({"find": In(find_signature(n_sa))} if find else {}),
        "hold": In(1), "quiet": Out(1), "renewed": In(renew_layout(n_sa)),
    })


def renew(m, renewed, write_port, direction: Dir, **fresh) -> None:
    """Start the dynamic state `renewed` names afresh, through `write_port` (free while the
    direction is quiet): for an SA of `direction`, the members `fresh` names (from `renewed`'s
    starting number) as given, the others (counters, flags) zero; for an SA of the other
    direction all zero (the appliance ORs both directions' counter snapshots of an index)."""
    with m.If(renewed.en):
        m.d.comb += [write_port.en.eq(1), write_port.addr.eq(renewed.index), write_port.data.eq(0)]
        with m.If(renewed.dir == direction):
            m.d.comb += [getattr(write_port.data, name).eq(value) for name, value in fresh.items()]
