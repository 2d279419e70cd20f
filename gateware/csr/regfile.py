"""A Wishbone B4 classic register file decoded from the SystemRDL register map.

Every register of `espline.rdl` (arrays unrolled, 64-bit registers as two words, low first)
is walked at elaboration time; nothing here names a register. The `hw` port mirrors the map's
hierarchy (`hw.sa_stage.key[3].value`) and carries, per field, what SystemRDL says hardware
sees: the value (hw=r), a live or write-enabled input (hw=w, `we`; named `<field>_next` when
hardware also reads the field, hw=rw), a pulse on software write
(`swmod`: `<field>_swmod`, in the cycle after the write, when the field holds the new value),
on software read (`swacc`: `<field>_swacc`, in the cycle the read is decoded), a set pulse
(`hwset`: `<field>_hwset`, hardware wins over a same-cycle software clear).

Bus timing: two wait states. A cycle is decoded when `cyc & stb` and none is under way; a read's
side effects take place at that clock edge, a write at the next (the master holds address, data
and `sel` until `ack`, so the write enables start at a flip-flop); `ack` and read data follow two
cycles after the decode: the read multiplexer is two stages, the addressed word of each group of `GROUP` words
registered first (the other groups' zero), then the OR of the groups. Software-write-only
fields (keys, salt) read as zero. Registers with `buffer_reads` latch all their words when the
lowest word is read; the higher words read from the latch, so a 64-bit counter reads
consistently while it counts. Writes honour `sel` byte lanes.

An `external` register file of the map (its registers all one width, one after another, read
only) is held outside: its `hw` port is `external_signature`, the register the bus addresses
(`index`, in address order) out and its value in, in the same cycle. Its buffered registers share
one latch: the low word's read latches the register's other words (read them next).
"""

from functools import reduce
from operator import or_

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from systemrdl.node import RegNode

from espline import regmap as rm

from . import wishbone

GROUP = 8  # words a group of the read multiplexer's first stage (word address // GROUP)


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


def external_signature(registers: int, width: int) -> wiring.Signature:
    """The `hw` port of an external register file: which of its `registers` the bus reads, its value."""
    return wiring.Signature({"index": Out(range(registers)), "value": In(width)})


def external_blocks(regmap: rm.RegMap) -> dict[str, list[rm.Register]]:
    """The map's external register files by name, each's registers in address order (all one width,
    one after another, read only: else a ValueError)."""
    blocks = {}
    for reg in regmap.registers:
        if reg.external:
            blocks.setdefault(reg.path[0], []).append(reg)
    for name, regs in blocks.items():
        if any(r.width != regs[0].width or r.address != regs[0].address + k * regs[0].width // 8
               or any(f.sw_write or f.hw_read or f.we or f.swmod or f.swacc or f.hwset for f in r.fields)
               for k, r in enumerate(regs)):
            raise ValueError(f"external register file {name}: registers of one width, one after another, read only")
    return blocks


def hw_members(node) -> dict:
    """The `hw` port of a register map node: one sub-signature per register file and register."""
    members = {}
    for child in node.children(unroll=False):
        if child.external and not isinstance(child, RegNode):
            regs = list(child.registers(unroll=True))
            members[child.inst_name] = Out(external_signature(len(regs), regs[0].get_property("regwidth")))
            continue
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
        selecting = Signal()  # the cycle after the decode: the groups' words are registered
        write = Signal()  # and if it is a write's: the write, the bus's signals unchanged
        strobe = bus.cyc & bus.stb & ~bus.ack & ~selecting
        read = strobe & ~bus.we
        m.d.sync += [selecting.eq(strobe), write.eq(strobe & bus.we), bus.ack.eq(selecting)]
        groups = {}  # word address // GROUP -> the addressed word if it is in the group, else 0

        def read_data(address):
            return groups.setdefault(address // GROUP, Signal(32, name=f"read_group_{address // GROUP}"))

        hardware_updates = []
        for reg in self.regmap.registers:  # swmod pulses last one cycle; a write below sets them
            m.d.sync += [getattr(self.hw_of(reg), f"{f.name}_swmod").eq(0) for f in reg.fields if f.swmod]
        blocks = external_blocks(self.regmap)
        for name, regs in blocks.items():  # the addressed register's index: (word address - base) / words
            port, words = getattr(self.hw, name), regs[0].words
            m.d.comb += port.index.eq((bus.adr - regs[0].address // 4) >> (words - 1).bit_length())
        with m.Switch(bus.adr):
            for name, regs in blocks.items():
                port, words = getattr(self.hw, name), regs[0].words
                latch = Signal(regs[0].width, name=f"{name}__latch") if regs[0].buffer_reads and words > 1 else None
                for word in range(words):
                    by_group = {}  # this word of every register, by read group
                    for reg in regs:
                        by_group.setdefault((reg.address // 4 + word) // GROUP, []).append(reg.address // 4 + word)
                    for addresses in by_group.values():
                        with m.Case(*addresses):
                            source = port.value if latch is None or word == 0 else latch
                            m.d.comb += read_data(addresses[0]).eq(source[word * 32:word * 32 + 32])
                            if latch is not None and word == 0:
                                with m.If(read):
                                    m.d.sync += latch.eq(port.value)
            for reg in self.regmap.registers:
                if reg.external:
                    continue
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
                        m.d.comb += read_data(reg.address // 4 + word).eq(source[lo:hi])
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
        registered = [Signal(32, name=f"{group.name}_r", reset_less=True) for group in groups.values()]
        m.d.sync += [r.eq(group) for r, group in zip(registered, groups.values(), strict=True)]
        with m.If(selecting):
            m.d.sync += bus.dat_r.eq(reduce(or_, registered))
        for enable, target, value in hardware_updates:
            with m.If(enable):
                m.d.sync += target.eq(value)
        return m
