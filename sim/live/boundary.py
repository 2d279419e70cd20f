"""The top of `espline run`'s Verilator model: the appliance behind registered ports.

Verilator evaluates the logic that depends on a top-level input (its "input combinational"
region) at every `eval`, besides the clocked logic at a clock edge. Two kinds of input made
that region large: the reset, which Amaranth puts in the next-state logic of every flip-flop
with a reset value, and the ports, which feed the parsers and the register file's decode
combinationally. With the appliance's reset and ports straight at the top, that region held
about a sixth of the model and ran twice a cycle (docs/live.md, "Measured"). Here the appliance
is clocked in a domain `core` whose reset comes from a flip-flop, packet inputs and outputs pass
a small FIFO each, and the Wishbone request is registered, so no logic of the appliance depends
on an input. The harness then needs no `eval` to settle a cycle's handshakes either: all it reads
(`ready`, `valid`, payloads, `ack`, `dat_r`, `idle`) comes from flip-flops and memories.

The appliance itself is unchanged; its ports see one cycle more latency. The FIFOs pass a beat a
cycle. The registered bus request reaches the register file a cycle late and its `ack` reaches
the harness directly: the harness drops `stb` on the `ack` it sees, which the register file sees
a cycle later, when its pending `ack` already makes it ignore `stb`
(`espline.gateware.csr.regfile`: a request is decoded only while no `ack` is pending), so each
command is one access.
"""

from amaranth.hdl import ClockDomain, ClockSignal, DomainRenamer, Module, ResetSignal
from amaranth.lib import fifo, wiring

__all__ = ["Boundary"]

#: Places of each port's FIFO: enough for a beat a cycle through it with `ready`/`valid` from flip-flops.
DEPTH = 4


class Boundary(wiring.Component):
    """`appliance` (an `espline.gateware.appliance.Appliance`) with the same ports, each registered.
    `idle`: the appliance is idle and no beat waits in a port's FIFO."""

    def __init__(self, appliance):
        self.appliance = appliance
        super().__init__(dict(appliance.signature.members))

    def elaborate(self, platform):
        m = Module()
        # the clock's domain with its reset from a flip-flop: Amaranth's flip-flops take their reset
        # in their next-state logic, which would otherwise all depend on the input `rst`
        m.domains.core = core = ClockDomain("core", local=True)
        m.d.comb += core.clk.eq(ClockSignal())
        m.d.sync += core.rst.eq(ResetSignal())
        m.submodules.appliance = DomainRenamer("core")(self.appliance)
        width = len(self.plain_i.payload.as_value())
        empty = self.appliance.idle
        for name in ("plain", "cipher", "host"):
            for d in "io":
                outer, inner = getattr(self, f"{name}_{d}"), getattr(self.appliance, f"{name}_{d}")
                queue = fifo.SyncFIFOBuffered(width=width, depth=DEPTH)
                m.submodules[f"{name}_{d}"] = DomainRenamer("core")(queue)
                src, dst = (outer, inner) if d == "i" else (inner, outer)
                m.d.comb += [queue.w_en.eq(src.valid), queue.w_data.eq(src.payload), src.ready.eq(queue.w_rdy),
                             dst.valid.eq(queue.r_rdy), dst.payload.eq(queue.r_data), queue.r_en.eq(dst.ready)]
                empty &= queue.level == 0
        bus = self.appliance.bus
        m.d.core += [bus.cyc.eq(self.bus.cyc), bus.stb.eq(self.bus.stb), bus.we.eq(self.bus.we),
                     bus.adr.eq(self.bus.adr), bus.dat_w.eq(self.bus.dat_w), bus.sel.eq(self.bus.sel)]
        m.d.comb += [self.bus.ack.eq(bus.ack), self.bus.dat_r.eq(bus.dat_r), self.irq.eq(self.appliance.irq),
                     self.idle.eq(empty)]
        return m
