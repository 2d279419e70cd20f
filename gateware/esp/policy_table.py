"""The security policy database in hardware (RFC 4301 §4.4.1): every entry matched at once,
the lowest-numbered match wins (the host driver keeps entries in priority order).

Entries arrive whole from the CSR block's `spd_write` port (layout of the register map's
`spd_stage`). `lookups` ports share one matcher (one comparator set per entry), taken in turn
(round robin among the ports waiting). A waiting port is picked into a register; the cycle after,
its lookup's selector fields go into the key register; the cycle after, every entry's checks of
them (direction, addresses, protocol, ports, SA) into registers; the cycle after, their AND
into the match register; the cycle after that, the port's result: the first match
and `admitted`: whether some entry of the key's direction protects with the key's `sa_index`
and matches it (RFC 4301 §5.2 step 4, the inbound check of a decapsulated packet; the model's
`PolicyDatabase.admits`). An entry is written only while no key is being matched, so a result
reads the entries its match saw.
A selector whose port ranges are both 0..65535 matches packets without ports too; one that
names ports matches only packets that have them, as the reference model's `Selector` does
(the entry's "any ports" is worked out once, as it is written).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
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
        n, lookups = self.n_policy, self.lookups
        asked = Signal(data.StructLayout({"valid": 1, "port": range(lookups)}))  # a key in the key register
        compared = Signal(data.StructLayout({"valid": 1, "port": range(lookups), "dir": n, "src": n, "dst": n,
                                             "proto": n, "ports": n, "sa": n}))  # each entry's checks of the key
        matched = Signal(data.StructLayout({"valid": 1, "port": range(lookups), "matches": n, "admits": n}))

        entries = [Signal(self.entry, name=f"entry_{i}") for i in range(n)]
        valid, any_ports = Signal(n), Signal(n)
        w = self.write.payload
        m.d.comb += self.write.ready.eq(~asked.valid & ~compared.valid)
        with m.If(self.write.valid & self.write.ready):
            with m.Switch(w.index):
                for i, entry in enumerate(entries):
                    with m.Case(i):
                        e = w.entry
                        m.d.sync += [entry.eq(e), valid[i].eq(w.valid),
                                     any_ports[i].eq((e.sport.lo == 0) & (e.sport.hi == 0xFFFF)
                                                     & (e.dport.lo == 0) & (e.dport.hi == 0xFFFF))]

        # the turn: the first port waiting at or after `turn` is picked into a register, and its key
        # taken the cycle after (the key's multiplexer and the ports' `ready` driven by flip-flops); a
        # port waits while its lookup is picked, in the pipeline or its result held; none is picked
        # while an entry waits to be written
        picked = Signal(data.StructLayout({"valid": 1, "port": range(lookups)}))
        turn = Signal(range(lookups))
        waiting = Cat(*[self.lookup[k].valid & ~self.result[k].valid
                        & ~Cat(*[s.valid & (s.port == k) for s in (picked, asked, compared, matched)]).any()
                        for k in range(lookups)])
        choice = Signal(range(lookups))
        with m.Switch(turn):
            for t in range(lookups):
                with m.Case(t):
                    for k in reversed([(t + j) % lookups for j in range(lookups)]):  # the first in turn wins
                        with m.If(waiting[k]):
                            m.d.comb += choice.eq(k)
        pick = waiting.any() & ~self.write.valid
        m.d.sync += [picked.valid.eq(pick), picked.port.eq(choice)]
        with m.If(pick):
            m.d.sync += turn.eq(Mux(choice == lookups - 1, 0, choice + 1))
        key = Signal(self.lookup[0].payload.shape())
        with m.Switch(picked.port):
            for k in range(lookups):
                with m.Case(k):
                    m.d.comb += self.lookup[k].ready.eq(picked.valid)
                    with m.If(picked.valid):
                        m.d.sync += key.eq(self.lookup[k].payload)
        m.d.sync += [asked.valid.eq(picked.valid), asked.port.eq(picked.port)]

        # each entry's selector checks, each into a register of its own; the cycle after, their AND
        m.d.sync += [compared.valid.eq(asked.valid), compared.port.eq(asked.port)]
        for i, e in enumerate(entries):
            in_ranges = ((e.sport.lo <= key.sport) & (key.sport <= e.sport.hi)
                         & (e.dport.lo <= key.dport) & (key.dport <= e.dport.hi))
            m.d.sync += [
                compared.dir[i].eq(valid[i] & (e.flags.dir == key.dir)),
                compared.src[i].eq((key.src & e.src_mask) == e.src),
                compared.dst[i].eq((key.dst & e.dst_mask) == e.dst),
                compared.proto[i].eq(e.flags.proto_any | (e.flags.proto == key.proto)),
                compared.ports[i].eq(any_ports[i] | (key.has_ports & in_ranges)),
                compared.sa[i].eq((e.flags.action == Action.PROTECT) & (e.sa_index == key.sa_index)),
            ]
        matches = Signal(n)
        m.d.comb += matches.eq(compared.dir & compared.src & compared.dst & compared.proto & compared.ports)
        m.d.sync += [matched.valid.eq(compared.valid), matched.port.eq(compared.port), matched.matches.eq(matches),
                     matched.admits.eq(matches & compared.sa)]

        # the first match of the registered vector, into the port's result
        index = Signal(range(n))
        for i in reversed(range(n)):  # the last assignment, the lowest index, wins
            with m.If(matched.matches[i]):
                m.d.comb += index.eq(i)
        chosen = Signal(self.entry)
        with m.Switch(index):
            for i, entry in enumerate(entries):
                with m.Case(i):
                    m.d.comb += chosen.eq(entry)
        for k, result in enumerate(self.result):
            r = result.payload
            with m.If(result.ready):
                m.d.sync += result.valid.eq(0)
            with m.If(matched.valid & (matched.port == k)):
                m.d.sync += [result.valid.eq(1), r.hit.eq(matched.matches != 0), r.admitted.eq(matched.admits != 0),
                             r.index.eq(index), r.action.eq(chosen.flags.action), r.sa_index.eq(chosen.sa_index)]
        return m
