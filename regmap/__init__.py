"""The espline register map, compiled from `espline.rdl` (SystemRDL 2.0) by systemrdl-compiler.

`espline.rdl` is the single definition; this module compiles it (once per set of build
parameters) and flattens it into `Register`/`Field` records. Its enumerations, counter names
and ID magic (`espline.regmap.enums`), the gateware decoder (`espline.gateware.csr.regfile`),
the host driver's accessors (`espline.host.registers`), the C header and docs/registers.md
(`python -m espline.regmap`) are all derived from it.

Field semantics used here are standard SystemRDL: `sw`/`hw` access, `swmod` (write pulse to
hardware), `swacc` (read pulse to hardware), `we` (hardware write enable), `hwset`, `woclr`,
`encode`, `external` (a block whose registers hardware outside the register file holds);
plus the user properties `buffer_reads` (PeakRDL-regblock's read buffering) and `update` (a
staging field SA_CMD update rewrites).
"""

import functools
from dataclasses import dataclass
from pathlib import Path

from systemrdl import RDLCompiler
from systemrdl.node import AddrmapNode, FieldNode, RegNode
from systemrdl.rdltypes import AccessType

RDL = Path(__file__).with_name("espline.rdl")
DEFAULTS = {"N_SA": 256, "N_POLICY": 64, "WINDOW": 128, "EVENT_DEPTH": 16, "MAX_FRAME": 9216}
BUS_WIDTH = 32


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    reset: int
    sw_read: bool
    sw_write: bool
    hw_read: bool  # hardware sees the field's value (hw=r/rw)
    hw_write: bool  # hardware drives the field (hw=w/rw)
    we: bool
    swmod: bool
    swacc: bool
    hwset: bool
    woclr: bool
    encode: type | None  # systemrdl UserEnum
    update: bool = False  # SA_CMD update rewrites it

    @property
    def stored(self) -> bool:
        """Held in a flip-flop of the register file (else a constant or a live hardware value)."""
        return self.sw_write or self.we or self.hwset

    @property
    def values(self) -> dict[str, int]:
        """The names of an `encode`d field's values."""
        return {m.name: m.value for m in self.encode} if self.encode else {}


@dataclass(frozen=True)
class Register:
    path: tuple  # names and array indices below the top, e.g. ("sa_stage", "key", 3)
    address: int  # byte address
    width: int  # bits, a multiple of BUS_WIDTH
    fields: tuple[Field, ...]
    buffer_reads: bool
    external: bool = False  # in an `external` block: read from hardware outside the register file

    @property
    def name(self) -> str:
        return ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in self.path).replace(".[", "[")

    @property
    def words(self) -> int:
        return self.width // BUS_WIDTH


def params(**overrides) -> dict:
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown register map parameter {sorted(unknown)[0]!r}")
    return {**DEFAULTS, **overrides}


@dataclass(frozen=True, eq=False)
class RegMap:
    """The compiled map for one set of build parameters: the systemrdl tree and its registers."""
    params: dict
    top: AddrmapNode
    registers: tuple[Register, ...]  # arrays unrolled, in address order

    def __getitem__(self, name: str) -> Register:
        """A register by dotted name, e.g. "sa_stage.key[3]"."""
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(name)


@functools.cache
def _compile(items: tuple) -> RegMap:
    rdlc = RDLCompiler()
    rdlc.compile_file(str(RDL))
    top = rdlc.elaborate(top_def_name="espline", parameters=dict(items)).top
    regs = [register(n, top) for n in top.descendants(unroll=True) if isinstance(n, RegNode)]
    return RegMap(dict(items), top, tuple(sorted(regs, key=lambda r: r.address)))


def compile(**overrides) -> RegMap:
    """The register map for these build parameters (see DEFAULTS), compiled once."""
    return _compile(tuple(sorted(params(**overrides).items())))


def field(node: FieldNode) -> Field:
    hw = node.get_property("hw")
    return Field(
        name=node.inst_name, lsb=node.lsb, width=node.width, reset=node.get_property("reset") or 0,
        sw_read=node.is_sw_readable, sw_write=node.is_sw_writable,
        hw_read=hw in (AccessType.r, AccessType.rw), hw_write=hw in (AccessType.w, AccessType.rw),
        we=bool(node.get_property("we")), swmod=node.get_property("swmod"), swacc=node.get_property("swacc"),
        hwset=bool(node.get_property("hwset")), woclr=node.get_property("onwrite") is not None,
        encode=node.get_property("encode"), update=bool(node.get_property("update", default=False)))


def path_of(node, top: AddrmapNode) -> tuple:
    """The path of `node` below `top`: names, with the array index after an array element's name."""
    parts = []
    while node is not top:
        if node.is_array:
            parts.extend(reversed(node.current_idx))
        parts.append(node.inst_name)
        node = node.parent
    return tuple(reversed(parts))


def register(node: RegNode, top: AddrmapNode) -> Register:
    return Register(path=path_of(node, top), address=node.absolute_address - top.absolute_address,
                    width=node.get_property("regwidth"), fields=tuple(field(f) for f in node.fields()),
                    buffer_reads=bool(node.get_property("buffer_reads", default=False)), external=node.external)
