"""Commit / update / delete / flush of a configuration table (SA table, SPD table) as whole-entry writes.

The host fills a staging area register by register, then writes the command register. Commit
copies the staging area, whole, into the `write` stream's payload in one clock edge, so later
staging writes cannot reach the entry being written: the table only ever sees complete
entries ("an SA never used half-written", docs/registers-design.md). Delete writes an entry of
zeros (`valid` 0, key zeroed: docs/invariants.md §2); flush deletes every index in turn. The
table's owner takes the write when it is safe (`ready`); until then the command is `busy`, and a
command written while busy is refused with error `busy`, as is an index beyond the table.

A table with `secret` members (the SA table: key, salt) holds live keys, so (docs/registers-design.md,
"never two frames under one (key, nonce)"): every command zeroes the staged secrets
(`zeroize`); commit needs every secret written since the last command (else `nokey`) and a
free entry (else `exists`: an add never replaces a live SA), and the table may still refuse it
(`refused`: error `full`, docs/sa-table.md); update (`payload.update`) writes
an entry whose `fixed` fields equal the valid entry's (else `invalid`), and the table's owner
keeps the entry's secrets and dynamic state (sequence number, replay window, counters, flags).

A mirror of the table's public part (every member but the secret ones) lives here in a
`Memory`, updated as each write is taken; fetch reads an entry back from it (on `fetched`, two
cycles after the command), so the host can list the table after a restart; commit and update
check the entry there and decide three cycles after the command (the host polls `busy`). The
mirror is in block RAM: its entries are hundreds of bits wide and read once per command
(docs/synth.md); its slow output goes into flip-flops first, and the update check's comparison
of the fixed fields into one more.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from espline import regmap as rm
from espline.regmap.enums import CmdErr, CmdOp

from .. import registered_read
from .layouts import fixed_fields


def write_layout(entry: data.Layout, depth: int) -> data.StructLayout:
    """The payload of a table write: the entry, whether it is valid, whether it is an update
    (keep the entry's secrets and dynamic state), and its index."""
    return data.StructLayout({"index": range(depth), "valid": 1, "update": 1, "entry": entry})


class TableCommand(wiring.Component):
    """Runs the commands of one table; `op` (the map's `cmd_op_e`), `index`, `start`, `staged` and
    `secret_written` (one pulse per secret member) come from the register file, `error` (`cmd_err_e`)
    goes back to it, `zeroize` clears the staged secrets.

    `fixed(view)`, if given, lists the fields of an entry an update may not change.
    """

    def __init__(self, entry: data.StructLayout, depth: int, secret=(), fixed=None):
        self.depth, self.fixed = depth, fixed
        self.secret = [name for name, _ in entry if name in secret]
        self.public = [name for name, _ in entry if name not in secret]
        self.mirror = data.StructLayout({"valid": 1, **{name: entry[name].shape for name in self.public}})
        super().__init__({
            "op": In(CmdOp), "index": In(16), "start": In(1), "staged": In(entry),
            "secret_written": In(max(1, len(self.secret))), "zeroize": Out(1),
            "busy": Out(1), "error": Out(CmdErr),
            "write": Out(stream.Signature(write_layout(entry, depth))),
            "refused": In(1),  # with `write.ready`: the table could not take the entry (error `full`)
            "fetched": Out(1), "fetched_entry": Out(entry), "fetched_valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.write
        flushing = Signal()
        fetching, checking = Signal(), Signal()  # entry INDEX being read for a fetch, a commit or update
        fetch_read, check_read = Signal(), Signal()  # and the cycle after: it is in `read`
        check_done = Signal()  # and the cycle after that: the check's results are registered
        m.d.comb += [self.busy.eq(w.valid | fetching | checking | fetch_read | check_read | check_done),
                     self.zeroize.eq(self.start)]

        # no entry read in the cycle it is written is used: the mirror is written only while a command
        # is busy, and no command reads it then
        m.submodules.mirror = mirror = registered_read.memory(self.mirror, self.depth, block=True)
        update, (lookup, looked_up) = mirror.write_port(), registered_read.read_port(m, mirror, name="looked_up")
        m.d.comb += [update.addr.eq(w.payload.index), update.en.eq(w.valid & w.ready & ~self.refused),
                     update.data.valid.eq(w.payload.valid), lookup.addr.eq(self.index),
                     self.fetched.eq(fetch_read)]
        # the block RAM's output (5.6 ns after the clock on a -6 part: docs/boards.md) goes into
        # flip-flops only; the fetch and the checks read them, a cycle later
        read = Signal(self.mirror)
        m.d.sync += [read.eq(looked_up), fetch_read.eq(fetching),
                     check_read.eq(checking), check_done.eq(check_read)]
        m.d.comb += [getattr(update.data, name).eq(getattr(w.payload.entry, name)) for name in self.public]
        m.d.comb += [getattr(self.fetched_entry, name).eq(getattr(read, name)) for name in self.public]
        m.d.sync += [fetching.eq(0), checking.eq(0)]
        with m.If(fetch_read):
            m.d.sync += self.fetched_valid.eq(read.valid)

        written = Signal(len(self.secret))  # each secret member written since the last command
        m.d.sync += written.eq(written | self.secret_written[:len(self.secret)])
        # registered from `read` (entry INDEX at `check_read`) and the payload (set at the command)
        same = Signal()  # the entry to write differs from entry INDEX in update fields only
        live = Signal()  # entry INDEX is valid
        m.d.sync += live.eq(read.valid)
        if self.fixed is not None:  # compared a byte at a time, the bytes' results registered
            old, new = (Cat(*self.fixed(view)) for view in (self.fetched_entry, w.payload.entry))
            equal = Signal((len(old) + 7) // 8)
            m.d.sync += equal.eq(Cat(old[i:i + 8] == new[i:i + 8] for i in range(0, len(old), 8)))
            m.d.comb += same.eq(equal.all())
        with m.If(check_done):
            with m.If(w.payload.update):
                with m.If(live & same):
                    m.d.sync += w.valid.eq(1)
                with m.Else():
                    m.d.sync += self.error.eq(CmdErr.INVALID)
            with m.Elif(live):
                m.d.sync += self.error.eq(CmdErr.EXISTS)
            with m.Else():
                m.d.sync += w.valid.eq(1)

        with m.If(w.valid & w.ready):
            with m.If(self.refused):
                m.d.sync += self.error.eq(CmdErr.FULL)
            with m.If(flushing & (w.payload.index != self.depth - 1)):
                m.d.sync += w.payload.index.eq(w.payload.index + 1)
            with m.Else():
                m.d.sync += [w.valid.eq(0), flushing.eq(0)]
        with m.If(self.start):
            m.d.sync += written.eq(0)
            with m.If(self.busy):
                m.d.sync += self.error.eq(CmdErr.BUSY)
            with m.Elif((self.op != CmdOp.FLUSH) & (self.op != CmdOp.NOP) & (self.index >= self.depth)):
                m.d.sync += self.error.eq(CmdErr.INDEX)
            with m.Else():
                m.d.sync += [self.error.eq(CmdErr.OK), w.payload.index.eq(self.index), w.payload.update.eq(0)]
                with m.Switch(self.op):
                    with m.Case(CmdOp.COMMIT):
                        m.d.sync += w.payload.valid.eq(1)
                        if self.secret:
                            with m.If(~written.all()):
                                m.d.sync += self.error.eq(CmdErr.NOKEY)
                            with m.Else():
                                m.d.sync += checking.eq(1)
                        else:
                            m.d.sync += w.valid.eq(1)
                    with m.Case(CmdOp.UPDATE):
                        if self.fixed is not None:
                            m.d.sync += [w.payload.valid.eq(1), w.payload.update.eq(1), checking.eq(1)]
                        else:
                            m.d.sync += self.error.eq(CmdErr.INVALID)
                    with m.Case(CmdOp.DELETE):
                        m.d.sync += [w.valid.eq(1), w.payload.valid.eq(0)]
                    with m.Case(CmdOp.FLUSH):
                        m.d.sync += [w.valid.eq(1), flushing.eq(1), w.payload.index.eq(0), w.payload.valid.eq(0)]
                    with m.Case(CmdOp.FETCH):
                        m.d.sync += fetching.eq(1)
        # The entry is taken at every command while none runs, whether the command is then refused
        # for its index or key or not: its hundreds of flip-flops' enable does not wait for the
        # index check and the command's decoding. The staged entry for commit and update, else
        # zeros (a delete, a flush), the zeros written last: the flip-flops' synchronous reset
        # over their enable.
        take = self.start & ~self.busy
        with m.If(take):
            m.d.sync += w.payload.entry.eq(self.staged)
        with m.If(take & ~self.op.matches(CmdOp.COMMIT, CmdOp.UPDATE)):
            m.d.sync += w.payload.entry.eq(0)
        return m


def for_table(regmap: rm.RegMap, table: str, entry: data.StructLayout, depth: int) -> TableCommand:
    """The TableCommand of `table` ("sa", "spd"): secret, the staging registers software cannot
    read; an update only if a staging field has the map's `update` property."""
    stage = [r for r in regmap.registers if r.path[0] == f"{table}_stage"]
    secret = {r.path[1] for r in stage if not any(f.sw_read for f in r.fields)}
    node = regmap.top.get_child_by_name(f"{table}_stage")
    updatable = any(f.update for r in stage for f in r.fields)
    return TableCommand(entry, depth, secret, (lambda view: fixed_fields(view, node)) if updatable else None)
