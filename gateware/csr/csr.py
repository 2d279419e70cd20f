"""The CSR block: the register file of `espline.rdl` on Wishbone, and the ports the datapath plugs into.

Datapath-facing ports (all derived from the register map; see docs/registers-design.md):

- `sa_write`, `spd_write`: whole-entry table writes, `{index, valid, update, entry}` with `entry`
  the layout of `sa_stage` / `spd_stage`; delete and flush write `valid` 0 and an all-zero entry
  (key zeroed). The table owner asserts `ready` when it may take the write; a commit, delete or
  flush also resets that entry's dynamic state (sequence number, replay window, counters); an
  update (`update` 1: only fields with the map's `update` property differ) keeps it and the
  entry's key and salt (table_cmd). (The block keeps a mirror of each table without its keys,
  for fetch and the commands' checks: the datapath never reads it.)
- `sa_counter_request` (an SA index) / `sa_counter_response` (layout of `sa_cnt`): one
  snapshot of one SA's counters per SA_CNT_SEL write.
- `global_counters` (the external register file `global_cnt`: `index`, a counter in the map's
  order, out; its 64-bit live `value` in, in the same cycle): read through one latch, a
  counter's low word and then its high word consistent while it counts.
- `events` (`{kind, index}`, layout of the EVENT register): always ready; lost when the FIFO
  is full (INT_STATUS.overflow).
- `thresholds` (layout of EVENT_THRESHOLD) and `irq` (INT_STATUS & INT_ENABLE, level).
"""

from amaranth.hdl import Cat, Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from espline import regmap as rm

from . import table_cmd, wishbone
from .events import EventQueue
from .layouts import from_registers, layout_of, leaves, to_registers
from .regfile import RegisterFile, hw_members, word_address_width
from .snapshot import CounterSnapshot


class CsrBlock(wiring.Component):
    def __init__(self, regmap: rm.RegMap | None = None):
        self.regmap = regmap = regmap or rm.compile()
        node = regmap.top.get_child_by_name
        self.n_sa, self.n_policy = regmap.params["N_SA"], regmap.params["N_POLICY"]
        self.sa_entry, self.spd_entry = layout_of(node("sa_stage")), layout_of(node("spd_stage"))
        self.event_layout = layout_of(node("event"))
        super().__init__({
            "bus": In(wishbone.Signature(word_address_width(regmap))),
            "sa_write": Out(stream.Signature(table_cmd.write_layout(self.sa_entry, self.n_sa))),
            "spd_write": Out(stream.Signature(table_cmd.write_layout(self.spd_entry, self.n_policy))),
            "sa_refused": In(1),  # with sa_write.ready: the SA table refused the entry (SA_STATUS error full)
            "sa_counter_request": Out(stream.Signature(range(self.n_sa))),
            "sa_counter_response": In(stream.Signature(layout_of(node("sa_cnt")))),
            "global_counters": hw_members(regmap.top)["global_cnt"],
            "events": In(stream.Signature(self.event_layout)),
            "thresholds": Out(layout_of(node("event_threshold"))),
            "irq": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        top = self.regmap.top.get_child_by_name
        m.submodules.regs = regs = RegisterFile(self.regmap)
        wiring.connect(m, wiring.flipped(self.bus), regs.bus)
        hw = regs.hw

        for name, entry, depth in (("sa", self.sa_entry, self.n_sa), ("spd", self.spd_entry, self.n_policy)):
            m.submodules[f"{name}_cmd"] = cmd = table_cmd.for_table(self.regmap, name, entry, depth)
            cmd_regs, status = getattr(hw, f"{name}_cmd"), getattr(hw, f"{name}_status")
            m.d.comb += [cmd.op.eq(cmd_regs.op), cmd.index.eq(cmd_regs.index), cmd.start.eq(cmd_regs.op_swmod),
                         status.busy.eq(cmd.busy), status.error.eq(cmd.error), status.valid.eq(cmd.fetched_valid)]
            stage_port, stage_node = getattr(hw, f"{name}_stage"), top(f"{name}_stage")
            m.d.comb += from_registers(cmd.staged, stage_port, stage_node)
            m.d.comb += to_registers(cmd.fetched_entry, cmd.fetched, stage_port, stage_node)
            for k, secret in enumerate(cmd.secret):  # zeroed by every command (fetched_entry's are 0)
                ports = [p for _, p, reg in leaves(cmd.fetched_entry, stage_port, stage_node)
                         if reg.inst_name == secret]
                m.d.comb += [p.value_we.eq(cmd.fetched | cmd.zeroize) for p in ports]
                m.d.comb += cmd.secret_written[k].eq(Cat(p.value_swmod for p in ports).any())
            wiring.connect(m, cmd.write, wiring.flipped(getattr(self, f"{name}_write")))
        m.d.comb += m.submodules.sa_cmd.refused.eq(self.sa_refused)

        m.submodules.snapshot = snap = CounterSnapshot(self.sa_counter_response.payload.shape(), self.n_sa)
        m.d.comb += [snap.select.eq(hw.sa_cnt_sel.index_swmod), snap.index.eq(hw.sa_cnt_sel.index),
                     hw.sa_cnt_sel.busy.eq(snap.busy)]
        wiring.connect(m, snap.request, wiring.flipped(self.sa_counter_request))
        wiring.connect(m, wiring.flipped(self.sa_counter_response), snap.response)
        for view, port, _ in leaves(snap.snapshot, hw.sa_cnt, top("sa_cnt")):
            m.d.comb += [port.value.eq(view), port.value_we.eq(snap.store)]
        wiring.connect(m, wiring.flipped(self.global_counters), hw.global_cnt)

        m.submodules.events = events = EventQueue(self.event_layout, self.regmap.params["EVENT_DEPTH"])
        wiring.connect(m, wiring.flipped(self.events), events.events)
        m.d.comb += [hw.event.kind.eq(events.head.kind), hw.event.index.eq(events.head.index),
                     events.pop.eq(hw.event.kind_swacc),
                     hw.int_status.event.eq(events.pending), hw.int_status.overflow_hwset.eq(events.overflow)]
        m.d.comb += from_registers(self.thresholds, hw.event_threshold, top("event_threshold"))
        enable = hw.int_enable
        m.d.comb += self.irq.eq((events.pending & enable.event) | (hw.int_status.overflow & enable.overflow))
        return m
