"""AES S-box (FIPS-197 §5.1.1) as a multi-port ROM.

Every lookup is registered: the read data appears one cycle after the address, which makes
the S-box the pipeline register of an AES round. Two mappings with identical timing:

* ``style="bram"``: one :class:`~amaranth.lib.memory.Memory` with synchronous read ports. On
  ECP5 Yosys maps each 256x8 ROM to a DP16KD block RAM; with ``ports=2`` one EBR serves two
  lookups (true dual port), so an AES round (16 state + 4 key-schedule lookups) costs 10 EBR.
* ``style="lut"``: asynchronous read ports followed by flip-flops, i.e. LUT4/PFUMX logic
  (~130 LUT4 per lookup on ECP5), for devices whose block RAM is needed elsewhere.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SBOX", "SBox", "sbox_lookups"]


def _make_sbox():
    def mul(a, b):
        r = 0
        while b:
            if b & 1:
                r ^= a
            a = ((a << 1) ^ (0x11B if a & 0x80 else 0)) & 0x1FF
            b >>= 1
        return r

    table = []
    for x in range(256):
        inv = next((y for y in range(1, 256) if mul(x, y) == 1), 0) if x else 0
        s = inv
        for i in range(1, 5):
            s ^= ((inv << i) | (inv >> (8 - i))) & 0xFF
        table.append(s ^ 0x63)
    return tuple(table)


#: The AES S-box, FIPS-197 Figure 7 (computed from the GF(2^8) inverse and affine map, §5.1.1).
SBOX = _make_sbox()


class SBox(wiring.Component):
    """``ports`` registered S-box lookups sharing one ROM.

    ``addr[i]`` is looked up when ``en`` is high; ``data[i]`` holds ``SBOX[addr[i]]`` from the
    next cycle on and keeps its value while ``en`` is low.
    """

    def __init__(self, ports=2, style="bram"):
        if style not in ("bram", "lut"):
            raise ValueError(f"style must be 'bram' or 'lut', not {style!r}")
        self._ports = ports
        self._style = style
        super().__init__({
            "en": In(1, init=1),
            "addr": In(8).array(ports),
            "data": Out(8).array(ports),
        })

    def elaborate(self, platform):
        m = Module()
        attrs = {"ram_style": "block"} if self._style == "bram" else {"ram_style": "logic"}
        m.submodules.rom = rom = memory.Memory(shape=8, depth=256, init=SBOX, attrs=attrs)
        for i in range(self._ports):
            if self._style == "bram":
                port = rom.read_port(domain="sync")
                m.d.comb += [port.addr.eq(self.addr[i]), port.en.eq(self.en), self.data[i].eq(port.data)]
            else:
                port = rom.read_port(domain="comb")
                reg = Signal(8)
                m.d.comb += [port.addr.eq(self.addr[i]), self.data[i].eq(reg)]
                with m.If(self.en):
                    m.d.sync += reg.eq(port.data)
        return m


def sbox_lookups(m, name, addrs, en, style="bram"):
    """Instantiate registered lookups of ``addrs`` in ROMs of two ports each (one EBR per pair).

    Returns the list of 8-bit results (valid one cycle after the address, held while ~en).
    """
    out = []
    for j in range(0, len(addrs), 2):
        pair = addrs[j:j + 2]
        sbox = SBox(ports=len(pair), style=style)
        m.submodules[f"{name}_{j // 2}"] = sbox
        m.d.comb += sbox.en.eq(en)
        for n, a in enumerate(pair):
            m.d.comb += sbox.addr[n].eq(a)
            out.append(sbox.data[n])
    return out
