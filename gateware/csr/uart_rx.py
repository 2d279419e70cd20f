"""UART receiver, 8N1, LSB first (one start bit, eight data bits, one stop bit).

`divisor` clock cycles per bit. The line is synchronised (two flip-flops); a falling edge
starts a byte, the start bit is checked at its middle, the data bits and the stop bit are
sampled at theirs. A byte with a bad stop bit (framing error) is discarded. Received bytes
leave on `data` (a stream without buffering: a byte not taken in its cycle is lost; the
bridge always takes it).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


class UartRx(wiring.Component):
    rx: In(1, init=1)
    data: Out(stream.Signature(8))

    def __init__(self, divisor: int):
        if divisor < 4:
            raise ValueError("divisor: at least 4 clock cycles per bit")
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bits = Signal(range(9))
        shift = Signal(8)
        m.d.sync += self.data.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(line):
                        m.next = "IDLE"  # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += [timer.eq(self.divisor - 1), bits.eq(0)]
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(shift >> 1 | line << 7), bits.eq(bits + 1), timer.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(line)]
                    m.next = "IDLE"
        return m
