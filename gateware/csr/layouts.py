"""Data layouts derived from the register map: a staging area or counter block as a `StructLayout`.

A register file becomes a struct of its registers; a register with the single field `value`
becomes that field's shape, any other register a struct of its fields; arrays become
`ArrayLayout`s. A field's shape is its width, or the map's enum if it is encoded
(`espline.regmap.enums`: `flags.dir` is a `Dir`). So the SA table entry is `sa_stage` as the map
declares it, field for field.
"""

from amaranth.hdl import unsigned
from amaranth.lib import data
from systemrdl.node import RegNode

from espline.regmap.enums import BY_RDL_NAME


def _shape(field):
    encode = field.get_property("encode")
    return BY_RDL_NAME[encode.type_name] if encode else unsigned(field.width)


def _element(node):
    if isinstance(node, RegNode):
        fields = list(node.fields())
        if [f.inst_name for f in fields] == ["value"]:
            return _shape(fields[0])
        return data.StructLayout({f.inst_name: _shape(f) for f in fields})
    return layout_of(node)


def layout_of(node):
    """The layout of a register map node (a register file or a register)."""
    if isinstance(node, RegNode):
        return _element(node)
    members = {}
    for child in node.children(unroll=False):
        shape = _element(child)
        members[child.inst_name] = data.ArrayLayout(shape, *child.array_dimensions) if child.is_array else shape
    return data.StructLayout(members)


def _walk(node, *objects):
    """(`objects`' parts for one register, its node) for every register below `node`; each object
    mirrors the node's hierarchy (a view of `layout_of(node)`, or a register file `hw` port)."""
    if isinstance(node, RegNode):
        yield objects, node
        return
    for child in node.children(unroll=False):
        if child.is_array:
            parts = [tuple(getattr(o, child.inst_name)[i] for o in objects) for i in range(child.array_dimensions[0])]
        else:
            parts = [tuple(getattr(o, child.inst_name) for o in objects)]
        for p in parts:
            yield from _walk(child, *p)


def leaves(view, port, node):
    """(view of one register, its `hw` sub-port, its node) for every register below `node`.

    `view` has `layout_of(node)`; `port` is the register file's `hw` port of `node`.
    """
    for (v, p), reg in _walk(node, view, port):
        yield v, p, reg


def fixed_fields(view, node) -> list:
    """The fields of `view` (of `layout_of(node)`) that SA_CMD update must find unchanged: those
    software can read that lack the map's `update` property (keys and salt are not compared)."""
    fields = []
    for (v,), reg in _walk(node, view):
        single = [f.inst_name for f in reg.fields()] == ["value"]
        fields += [v if single else getattr(v, f.inst_name) for f in reg.fields()
                   if f.is_sw_readable and not f.get_property("update", default=False)]
    return fields


def from_registers(view, port, node) -> list:
    """Statements that drive `view` from the hardware-readable fields of the registers below `node`."""
    statements = []
    for v, p, reg in leaves(view, port, node):
        names = [f.inst_name for f in reg.fields()]
        if names == ["value"]:
            statements.append(v.eq(p.value))
        else:
            statements += [getattr(v, n).eq(getattr(p, n)) for n in names]
    return statements


def to_registers(view, enable, port, node) -> list:
    """Statements that write `view` (of `layout_of(node)`) into the registers below `node` when `enable`
    (through their `we` and `_next` inputs: every field must be hw=rw with `we`)."""
    statements = []
    for v, p, reg in leaves(view, port, node):
        names = [f.inst_name for f in reg.fields()]
        for n in names:
            statements += [getattr(p, f"{n}_next").eq(v if names == ["value"] else getattr(v, n)),
                           getattr(p, f"{n}_we").eq(enable)]
    return statements
