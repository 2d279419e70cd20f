"""The security policy database in hardware (RFC 4301 §4.4.1): every entry matched at once,
the lowest-numbered match wins (the host driver keeps entries in priority order).

Entries arrive whole from the CSR block's `spd_write` port (layout of the register map's
`spd_stage`); a lookup takes the selector fields of one packet and answers one cycle later.
A selector whose port ranges are both 0..65535 matches packets without ports too; one that
names ports matches only packets that have them, as the reference model's `Selector` does.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

Key = data.StructLayout({"dir": 1, "src": 32, "dst": 32, "proto": 8, "has_ports": 1, "sport": 16, "dport": 16})


def result_layout(n_policy: int, n_sa: int) -> data.StructLayout:
    return data.StructLayout({"hit": 1, "index": range(n_policy), "action": 2, "sa_index": range(n_sa)})


class PolicyTable(wiring.Component):
    def __init__(self, write_layout: data.StructLayout, n_policy: int, n_sa: int):
        self.n_policy = n_policy
        self.entry = write_layout.members["entry"]
        super().__init__({
            "write": In(stream.Signature(write_layout)),
            "lookup": In(stream.Signature(Key)),
            "result": Out(stream.Signature(result_layout(n_policy, n_sa))),
        })

    def elaborate(self, platform):
        m = Module()
        entries = [Signal(self.entry, name=f"entry_{i}") for i in range(self.n_policy)]
        valid = Signal(self.n_policy)
        w = self.write.payload
        m.d.comb += self.write.ready.eq(1)
        with m.If(self.write.valid):
            with m.Switch(w.index):
                for i, entry in enumerate(entries):
                    with m.Case(i):
                        m.d.sync += [entry.eq(w.entry), valid[i].eq(w.valid)]

        key = self.lookup.payload
        matches = Signal(self.n_policy)
        for i, e in enumerate(entries):
            any_ports = ((e.sport.lo == 0) & (e.sport.hi == 0xFFFF) & (e.dport.lo == 0) & (e.dport.hi == 0xFFFF))
            in_ranges = ((e.sport.lo <= key.sport) & (key.sport <= e.sport.hi)
                         & (e.dport.lo <= key.dport) & (key.dport <= e.dport.hi))
            m.d.comb += matches[i].eq(
                valid[i] & (e.flags.dir == key.dir)
                & ((key.src & e.src_mask) == e.src) & ((key.dst & e.dst_mask) == e.dst)
                & (e.flags.proto_any | (e.flags.proto == key.proto))
                & (any_ports | (key.has_ports & in_ranges)))

        advance = ~self.result.valid | self.result.ready
        m.d.comb += self.lookup.ready.eq(advance)
        with m.If(advance):
            m.d.sync += [self.result.valid.eq(self.lookup.valid), self.result.payload.hit.eq(matches != 0)]
            for i in reversed(range(self.n_policy)):  # the last assignment, the lowest index, wins
                with m.If(matches[i]):
                    r = self.result.payload
                    m.d.sync += [r.index.eq(i), r.action.eq(entries[i].flags.action),
                                 r.sa_index.eq(entries[i].sa_index)]
        return m
