"""Wishbone B4 classic bus signature (Wishbone B4 specification, chapter 3: classic cycles).

Word addressed: `adr` counts `data_width`-bit words (byte address >> 2 for 32-bit data);
`sel` has one bit per byte. Single read/write cycles: the master holds `cyc` and `stb` until
the slave answers with `ack` for one cycle.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class Signature(wiring.Signature):
    """The bus as the master sees it (a slave uses `Signature(...).flip()`)."""

    def __init__(self, addr_width: int, data_width: int = 32):
        self.addr_width, self.data_width = addr_width, data_width
        super().__init__({
            "cyc": Out(1), "stb": Out(1), "we": Out(1),
            "adr": Out(addr_width), "dat_w": Out(data_width), "sel": Out(data_width // 8),
            "dat_r": In(data_width), "ack": In(1),
        })

    def __eq__(self, other):
        return (type(other) is type(self) and other.addr_width == self.addr_width
                and other.data_width == self.data_width)

    def __repr__(self):
        return f"wishbone.Signature({self.addr_width}, {self.data_width})"
