"""Global counters (docs/invariants.md §3: rx = tx + punted + drops): one-cycle count pulses from
every stage, summed into the 64-bit live values the register map's `global_cnt` reads."""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import COUNTERS

#: The counters: the register map's `global_cnt`, in its order (docs/model.md).
NAMES = COUNTERS

#: The counters of frames that end inside the appliance, no frame out, when they count: the drops
#: but too-big (a too-big frame ends when the ICMP block has seen it pass, as its answer may follow:
#: `icmp_too_big.py`), the punted frames the host queue lost (`punt_dropped` is within `punted`, not
#: a drop: rx = tx + punted + drops) and the ICMP answers the ICMP queue lost (`icmp_lost`).
ENDED_INSIDE = tuple(name for name in NAMES if name.startswith("drop_") and name != "drop_too_big") + (
    "punt_dropped", "icmp_lost")

#: One pulse per counted frame: the members a stage sets in the cycle it decides a frame.
Counts = data.StructLayout({name: 1 for name in NAMES})


class GlobalCounters(wiring.Component):
    """Sum `sources` pulse vectors per cycle into `values` (layout of the map's `global_cnt`)."""

    def __init__(self, values: data.StructLayout, sources: int):
        super().__init__({"counts": In(Counts).array(sources), "values": Out(values)})

    def elaborate(self, platform):
        m = Module()
        for name in NAMES:
            m.d.sync += getattr(self.values, name).eq(
                getattr(self.values, name) + sum(getattr(c, name) for c in self.counts))
        return m
