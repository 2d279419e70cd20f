"""Register accessors for the host, derived from the compiled register map (no address table here).

    regs = Registers(transport)
    regs.write("sa_stage.flags", dir="out", mode="tunnel", icv_len=16)   # other fields: reset values
    regs.read("sa_status")                        # {"busy": 0, "error": 0}
    regs.read("global_cnt.rx_plain")["value"]     # 64-bit: low word first (it latches the high word)

Encoded fields (`encode = ...` in the map) take their value names as well as numbers and the
map's enums (`espline.regmap.enums`: `regs.write("sa_cmd", op=CmdOp.COMMIT, index=3)`).
"""

from espline import regmap as rm
from espline.host.transport import Transport


class Registers:
    def __init__(self, transport: Transport, regmap: rm.RegMap | None = None):
        self.transport = transport
        self.map = regmap or rm.compile()

    def _encode(self, reg: rm.Register, values: dict) -> int:
        fields = {f.name: f for f in reg.fields}
        unknown = set(values) - set(fields)
        if unknown:
            raise KeyError(f"{reg.name} has no field {sorted(unknown)[0]!r}")
        word = 0
        for f in reg.fields:
            value = values.get(f.name, f.reset)
            if isinstance(value, str):
                value = f.values[value]
            value = int(value)
            if not 0 <= value < 1 << f.width:
                raise ValueError(f"{reg.name}.{f.name}: {value} does not fit in {f.width} bits")
            word |= value << f.lsb
        return word

    def write(self, name: str, **fields) -> None:
        """Write every word of register `name`, low word first; fields not named take their reset value."""
        reg = self.map[name]
        word = self._encode(reg, fields)
        for i in range(reg.words):
            self.transport.write(reg.address + 4 * i, (word >> (32 * i)) & 0xFFFFFFFF)

    def read(self, name: str) -> dict[str, int]:
        """Read every word of register `name`, low word first; its fields by name."""
        reg = self.map[name]
        word = 0
        for i in range(reg.words):
            word |= self.transport.read(reg.address + 4 * i) << (32 * i)
        return {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in reg.fields}

    def value_name(self, register: str, field: str, value: int) -> str:
        """The name of `value` in an encoded field (e.g. an error code)."""
        (f,) = [f for f in self.map[register].fields if f.name == field]
        return {v: k for k, v in f.values.items()}[value]

    def names(self, prefix: str = "") -> list[str]:
        """Register names under `prefix` (e.g. "global_cnt."), in address order."""
        return [r.name for r in self.map.registers if r.name.startswith(prefix)]
