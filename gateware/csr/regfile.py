"""A Wishbone B4 classic register file decoded from the SystemRDL register map.

Every register of `espline.rdl` (arrays unrolled, 64-bit registers as two words, low first)
is walked at elaboration time; nothing here names a register. The `hw` port mirrors the map's
hierarchy (`hw.sa_stage.key[3].value`) and carries, per field, what SystemRDL says hardware
sees: the value (hw=r), a live or write-enabled input (hw=w, `we`; named `<field>_next` when
hardware also reads the field, hw=rw), a pulse on software write
(`swmod`: `<field>_swmod`, in the cycle after the write, when the field holds the new value),
on software read (`swacc`: `<field>_swacc`, in the cycle the read is decoded), a set pulse
(`hwset`: `<field>_hwset`, hardware wins over a same-cycle software clear).

Bus timing: one wait state. A cycle is decoded when `cyc & stb` and no `ack` is pending; its
write and side effects take place at that clock edge, `ack` and read data follow one cycle
later. Software-write-only fields (keys, salt) read as zero. Registers with `buffer_reads`
latch all their words when the lowest word is read; the higher words read from the latch, so
a 64-bit counter reads consistently while it counts. Writes honour `sel` byte lanes.
"""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from systemrdl.node import RegNode

from espline import regmap as rm

from . import wishbone


def field_members(f: rm.Field) -> dict:
    """The hardware-side ports of one field (see the module docstring)."""
    members = {}
    if f.hw_read:
        members[f.name] = Out(f.width)
    if f.hw_write and not f.hwset:
        members[f"{f.name}_next" if f.hw_read else f.name] = In(f.width)
    for flag, direction in (("we", In), ("swmod", Out), ("swacc", Out), ("hwset", In)):
        if getattr(f, flag):
            members[f"{f.name}_{flag}"] = direction(1)
    return members


def hw_members(node) -> dict:
    """The `hw` port of a register map node: one sub-signature per register file and register."""
    members = {}
    for child in node.children(unroll=False):
        if isinstance(child, RegNode):
            sub = {k: v for fn in child.fields() for k, v in field_members(rm.field(fn)).items()}
        else:
            sub = hw_members(child)
        if sub:
            member = Out(wiring.Signature(sub))
            members[child.inst_name] = member.array(*child.array_dimensions) if child.is_array else member
    return members


def word_address_width(regmap: rm.RegMap) -> int:
    return max(1, (regmap.top.size - 1).bit_length() - 2)


class RegisterFile(wiring.Component):
    """Wishbone slave (`bus`, word addressed) over every register of `regmap`; `hw` to the logic."""

    def __init__(self, regmap: rm.RegMap):
        self.regmap = regmap
        super().__init__({"bus": In(wishbone.Signature(word_address_width(regmap))),
                          "hw": Out(wiring.Signature(hw_members(regmap.top)))})

    def hw_of(self, reg: rm.Register):
        """The `hw` sub-interface of one register."""
        port = self.hw
        for part in reg.path:
            port = port[part] if isinstance(part, int) else getattr(port, part)
        return port

    def elaborate(self, platform):
        m = Module()
        bus = self.bus
        strobe = bus.cyc & bus.stb & ~bus.ack
        write, read = strobe & bus.we, strobe & ~bus.we
        read_data = Signal(32)
        m.d.sync += bus.ack.eq(strobe)
        with m.If(strobe):
            m.d.sync += bus.dat_r.eq(read_data)

        hardware_updates = []
        for reg in self.regmap.registers:  # swmod pulses last one cycle; a write below sets them
            m.d.sync += [getattr(self.hw_of(reg), f"{f.name}_swmod").eq(0) for f in reg.fields if f.swmod]
        with m.Switch(bus.adr):
            for reg in self.regmap.registers:
                hw = self.hw_of(reg) if any(field_members(f) for f in reg.fields) else None
                values, storage = {}, {}
                for f in reg.fields:
                    signame = f"{reg.name.replace('.', '__').replace('[', '_').replace(']', '')}__{f.name}"
                    if f.stored:
                        storage[f.name] = values[f.name] = Signal(f.width, init=f.reset, name=signame)
                    elif f.hw_write:
                        values[f.name] = getattr(hw, f.name)
                    else:
                        values[f.name] = Const(f.reset, f.width)
                    if f.hw_read:
                        m.d.comb += getattr(hw, f.name).eq(values[f.name])
                    if f.we:
                        data = getattr(hw, f"{f.name}_next" if f.hw_read else f.name)
                        hardware_updates.append((getattr(hw, f"{f.name}_we"), storage[f.name], data))
                    if f.hwset:
                        hardware_updates.append((getattr(hw, f"{f.name}_hwset"), storage[f.name],
                                                 Const(-1, f.width)))
                current = Signal(reg.width, name=f"{reg.name.replace('.', '__')}__read")
                m.d.comb += [current[f.lsb:f.lsb + f.width].eq(values[f.name]) for f in reg.fields if f.sw_read]
                latch = Signal(reg.width) if reg.buffer_reads and reg.words > 1 else None
                for word in range(reg.words):
                    lo, hi = word * 32, word * 32 + 32
                    with m.Case(reg.address // 4 + word):
                        source = current if latch is None or word == 0 else latch
                        m.d.comb += read_data.eq(source[lo:hi])
                        if latch is not None and word == 0:
                            with m.If(read):
                                m.d.sync += latch.eq(current)
                        for f in reg.fields:
                            a, b = max(f.lsb, lo), min(f.lsb + f.width, hi)
                            if a >= b:
                                continue
                            if f.sw_write:  # byte by byte, its lane's `sel` the flip-flops' enable
                                for byte_lo in range(a - a % 8, b, 8):
                                    c, d = max(a, byte_lo), min(b, byte_lo + 8)
                                    old, data = storage[f.name][c - f.lsb:d - f.lsb], bus.dat_w[c - lo:d - lo]
                                    with m.If(write & bus.sel[(c - lo) // 8]):
                                        m.d.sync += old.eq(old & ~data if f.woclr else data)
                            if f.swmod:
                                with m.If(write):
                                    m.d.sync += getattr(hw, f"{f.name}_swmod").eq(1)
                            if f.swacc:
                                m.d.comb += getattr(hw, f"{f.name}_swacc").eq(read)
        for enable, target, value in hardware_updates:
            with m.If(enable):
                m.d.sync += target.eq(value)
        return m
