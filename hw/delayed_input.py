"""A DDR input whose pins pass through the ECP5 input delay first: `amaranth.lib.io.DDRBuffer`
("i") with a `DELAYG` between each pin's input buffer and its `IDDRX1F` (Lattice FPGA-TN-02035,
ECP5 and ECP5-5G High-Speed I/O Interface: the input delay element in front of the IDDR).

It is how an RGMII receiver meets a PHY that does not delay its receive clock: the data and
control pins are delayed by `delay` seconds instead, in taps of 25 ps (as liteeth's ECP5 RGMII
PHY counts them; 2 ns is 80 taps), so that `rx_clk`'s edges fall inside their eyes (RGMII v2.0's
timing specification asks for 1.5 to 2 ns of skew from the clock to the data). `DEL_MODE`
"SCLK_ALIGNED" starts the count from the delay that aligns a clock and its data, as liteeth does.
"""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal
from amaranth.lib import io

__all__ = ["DelayedDDRInput", "TAP_SECONDS"]

TAP_SECONDS = 25e-12
MAX_TAPS = 127  # DEL_VALUE is 7 bits


class DelayedDDRInput(io.DDRBuffer):
    def __init__(self, port, *, i_domain: str, delay: float):
        taps = round(delay / TAP_SECONDS)
        if not 0 < taps <= MAX_TAPS:
            raise ValueError(f"a delay of {delay} s is {taps} taps of 25 ps; the ECP5 input delay has 1 to {MAX_TAPS}")
        if any(port.invert):
            raise ValueError("inverted pins are not supported: the delay must take the input buffer's output unchanged")
        self.taps = taps
        super().__init__("i", port, i_domain=i_domain)

    def elaborate(self, platform):
        if platform is None:
            raise TypeError("DelayedDDRInput is an ECP5 primitive: elaborate it for a LatticeECP5Platform")
        m = Module()
        m.submodules.buf = buf = io.Buffer("i", self.port)
        q0, q1 = Signal(len(self.port)), Signal(len(self.port))
        for bit in range(len(self.port)):
            delayed = Signal(name=f"delayed{bit}")
            m.submodules[f"delay{bit}"] = Instance("DELAYG", p_DEL_MODE="SCLK_ALIGNED", p_DEL_VALUE=self.taps,
                                                   i_A=buf.i[bit], o_Z=delayed)
            m.submodules[f"i_ddr{bit}"] = Instance("IDDRX1F", i_SCLK=ClockSignal(self.i_domain), i_RST=Const(0),
                                                   i_D=delayed, o_Q0=q0[bit], o_Q1=q1[bit])
        m.d.comb += [self.i[0].eq(q0), self.i[1].eq(q1)]
        return m
