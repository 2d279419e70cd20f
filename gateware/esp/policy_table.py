"""The security policy database in hardware (RFC 4301 §4.4.1): every entry matched at once,
the lowest-numbered match wins (the host driver keeps entries in priority order).

Entries arrive whole from the CSR block's `spd_write` port (layout of the register map's
`spd_stage`). `lookups` independent ports share the entries: each takes the selector fields of
one packet and answers one cycle later, with the first match and `admitted`: whether some
entry of the key's direction protects with the key's `sa_index` and matches it (RFC 4301 §5.2
step 4, the inbound check of a decapsulated packet; the model's `PolicyDatabase.admits`).
A selector whose port ranges are both 0..65535 matches packets without ports too; one that
names ports matches only packets that have them, as the reference model's `Selector` does.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import Action, Dir


def key_layout(n_sa: int) -> data.StructLayout:
    return data.StructLayout({"dir": Dir, "src": 32, "dst": 32, "proto": 8, "has_ports": 1, "sport": 16,
                              "dport": 16, "sa_index": range(n_sa)})


def result_layout(n_policy: int, n_sa: int) -> data.StructLayout:
    return data.StructLayout({"hit": 1, "index": range(n_policy), "action": Action, "sa_index": range(n_sa),
                              "admitted": 1})


class PolicyTable(wiring.Component):
    def __init__(self, write_layout: data.StructLayout, n_policy: int, n_sa: int, lookups: int = 1):
        self.n_policy, self.lookups = n_policy, lookups
        self.entry = write_layout.members["entry"]
        super().__init__({
            "write": In(stream.Signature(write_layout)),
            "lookup": In(stream.Signature(key_layout(n_sa))).array(lookups),
            "result": Out(stream.Signature(result_layout(n_policy, n_sa))).array(lookups),
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

        for port, (lookup, result) in enumerate(zip(self.lookup, self.result, strict=True)):
            key = lookup.payload
            matches = Signal(self.n_policy, name=f"matches_{port}")
            admits = Signal(self.n_policy, name=f"admits_{port}")
            for i, e in enumerate(entries):
                any_ports = ((e.sport.lo == 0) & (e.sport.hi == 0xFFFF) & (e.dport.lo == 0) & (e.dport.hi == 0xFFFF))
                in_ranges = ((e.sport.lo <= key.sport) & (key.sport <= e.sport.hi)
                             & (e.dport.lo <= key.dport) & (key.dport <= e.dport.hi))
                m.d.comb += [
                    matches[i].eq(valid[i] & (e.flags.dir == key.dir)
                                  & ((key.src & e.src_mask) == e.src) & ((key.dst & e.dst_mask) == e.dst)
                                  & (e.flags.proto_any | (e.flags.proto == key.proto))
                                  & (any_ports | (key.has_ports & in_ranges))),
                    admits[i].eq(matches[i] & (e.flags.action == Action.PROTECT) & (e.sa_index == key.sa_index)),
                ]

            advance = ~result.valid | result.ready
            r = result.payload
            m.d.comb += lookup.ready.eq(advance)
            with m.If(advance):
                m.d.sync += [result.valid.eq(lookup.valid), r.hit.eq(matches != 0), r.admitted.eq(admits != 0)]
                for i in reversed(range(self.n_policy)):  # the last assignment, the lowest index, wins
                    with m.If(matches[i]):
                        m.d.sync += [r.index.eq(i), r.action.eq(entries[i].flags.action),
                                     r.sa_index.eq(entries[i].sa_index)]
        return m
