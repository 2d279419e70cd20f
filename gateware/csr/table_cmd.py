"""Commit / delete / flush of a configuration table (SA table, SPD table) as whole-entry writes.

The host fills a staging area register by register, then writes the command register. Commit
copies the staging area, whole, into the `write` stream's payload in one clock edge, so later
staging writes cannot reach the entry being written: the table only ever sees complete
entries ("an SA never used half-written", docs/registers-design.md). Delete writes an entry of zeros
(`valid` 0, key zeroed: docs/invariants.md §2); flush deletes every index in turn. The table's
owner takes the write when it is safe (`ready`); until then the command is `busy`, and a
command written while busy is refused with error `busy`, as is an index beyond the table.

A mirror of the table's public part (every member but the `secret` ones: keys, salt) lives
here in a `Memory`, updated as each write is taken; fetch reads an entry back from it (on
`fetched`, one cycle after the command), so the host can list the table after a restart.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from espline.host import regmap as rm


def write_layout(entry: data.Layout, depth: int) -> data.StructLayout:
    """The payload of a table write: the entry, whether it is valid, and its index."""
    return data.StructLayout({"index": range(depth), "valid": 1, "entry": entry})


class TableCommand(wiring.Component):
    """Runs the commands of one table; `op`, `index`, `start` and `staged` come from the register file.

    `ops` and `errors` are the encodings of the map's `cmd_op_e` and `cmd_err_e` (field `values`).
    """

    def __init__(self, entry: data.StructLayout, depth: int, ops: dict, errors: dict, secret=()):
        self.depth, self.ops, self.errors = depth, ops, errors
        self.public = [name for name, _ in entry if name not in secret]
        self.mirror = data.StructLayout({"valid": 1, **{name: entry[name].shape for name in self.public}})
        super().__init__({
            "op": In(3), "index": In(16), "start": In(1), "staged": In(entry),
            "busy": Out(1), "error": Out(2),
            "write": Out(stream.Signature(write_layout(entry, depth))),
            "fetched": Out(1), "fetched_entry": Out(self.mirror), "fetched_valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.write
        flushing, fetching = Signal(), Signal()
        m.d.comb += self.busy.eq(w.valid | fetching)

        m.submodules.mirror = mirror = memory.Memory(shape=self.mirror, depth=self.depth, init=[])
        update, lookup = mirror.write_port(), mirror.read_port()
        m.d.comb += [update.addr.eq(w.payload.index), update.en.eq(w.valid & w.ready),
                     update.data.valid.eq(w.payload.valid), lookup.addr.eq(self.index),
                     self.fetched.eq(fetching), self.fetched_entry.eq(lookup.data)]
        m.d.comb += [getattr(update.data, name).eq(getattr(w.payload.entry, name)) for name in self.public]
        m.d.sync += fetching.eq(0)
        with m.If(fetching):
            m.d.sync += self.fetched_valid.eq(lookup.data.valid)

        with m.If(w.valid & w.ready):
            with m.If(flushing & (w.payload.index != self.depth - 1)):
                m.d.sync += w.payload.index.eq(w.payload.index + 1)
            with m.Else():
                m.d.sync += [w.valid.eq(0), flushing.eq(0)]
        with m.If(self.start):
            with m.If(self.busy):
                m.d.sync += self.error.eq(self.errors["busy"])
            with m.Elif((self.op != self.ops["flush"]) & (self.op != self.ops["nop"]) & (self.index >= self.depth)):
                m.d.sync += self.error.eq(self.errors["index"])
            with m.Else():
                m.d.sync += self.error.eq(self.errors["ok"])
                with m.Switch(self.op):
                    with m.Case(self.ops["commit"]):
                        m.d.sync += [w.valid.eq(1), w.payload.index.eq(self.index), w.payload.valid.eq(1),
                                     w.payload.entry.eq(self.staged)]
                    with m.Case(self.ops["delete"]):
                        m.d.sync += [w.valid.eq(1), w.payload.index.eq(self.index), w.payload.valid.eq(0),
                                     w.payload.entry.eq(0)]
                    with m.Case(self.ops["flush"]):
                        m.d.sync += [w.valid.eq(1), flushing.eq(1), w.payload.index.eq(0), w.payload.valid.eq(0),
                                     w.payload.entry.eq(0)]
                    with m.Case(self.ops["fetch"]):
                        m.d.sync += fetching.eq(1)
        return m


def for_table(regmap: rm.RegMap, table: str, entry: data.StructLayout, depth: int) -> TableCommand:
    """The TableCommand of `table` ("sa", "spd"): encodings from its command and status registers;
    secret, the staging registers software cannot read."""
    (op,) = [f for f in regmap[f"{table}_cmd"].fields if f.name == "op"]
    (error,) = [f for f in regmap[f"{table}_status"].fields if f.name == "error"]
    secret = {r.path[1] for r in regmap.registers
              if r.path[0] == f"{table}_stage" and not any(f.sw_read for f in r.fields)}
    return TableCommand(entry, depth, op.values, error.values, secret)
