"""An LED that shows activity: each `pulse` flips it from its `base` level for
`hold` clock cycles, long enough to see (2**22 cycles: 34 ms at 125 MHz), a cycle after
the pulse."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class Activity(wiring.Component):
    pulse: In(1)
    base: In(1)  # the LED's level without activity
    led: Out(1)

    def __init__(self, hold: int = 1 << 22):
        self.hold = hold
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        left = Signal(range(self.hold + 1))
        with m.If(self.pulse):
            m.d.sync += left.eq(self.hold)
        with m.Elif(left != 0):
            m.d.sync += left.eq(left - 1)
        m.d.sync += self.led.eq(self.base ^ (left != 0))  # a register drives the pin
        return m
