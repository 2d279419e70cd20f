"""What the register map names, as Python: its enumerations (`enum ..._e` in espline.rdl) as
Amaranth enums - shapes in the gateware, plain integers to the driver - the global counters in
address order, and the ID magic. Nothing here is typed a second time: all of it is read from
the compiled map, so a change to espline.rdl reaches every user."""

import types

from amaranth.lib import enum

from . import compile


def _enum(type_name: str) -> type[enum.Enum]:
    """The map's enum `type_name` (e.g. "dir_e") as an Amaranth `IntEnum` (`Dir`, members upper case),
    as wide as the widest field it encodes."""
    fields = [f for r in compile().registers for f in r.fields if f.encode and f.encode.type_name == type_name]
    if not fields:
        raise LookupError(f"espline.rdl has no field encoded with {type_name}")
    name = "".join(part.capitalize() for part in type_name.removesuffix("_e").split("_"))

    def members(namespace):
        for member in fields[0].encode:
            namespace[member.name.upper()] = member.value

    cls = types.new_class(name, (enum.IntEnum,), {"shape": max(f.width for f in fields)}, members)
    cls.__module__, cls.__doc__, cls.rdl_name = __name__, f"espline.rdl `{type_name}`", type_name
    return cls


Dir = _enum("dir_e")
Mode = _enum("mode_e")
Df = _enum("df_e")
Action = _enum("action_e")
CmdOp = _enum("cmd_op_e")
CmdErr = _enum("cmd_err_e")
Event = _enum("event_e")

#: The enums above by their names in espline.rdl (an encoded field's `encode.type_name`).
BY_RDL_NAME = {e.rdl_name: e for e in (Dir, Mode, Df, Action, CmdOp, CmdErr, Event)}

#: The global counters (`global_cnt`), in address order.
COUNTERS = tuple(r.path[1] for r in compile().registers if r.path[0] == "global_cnt")

#: The ID register's magic ("ESPL").
MAGIC = compile()["id"].fields[0].reset
