"""Stream plumbing: round-robin merge a frame (or record) at a time, fan-out, queues, a register stage."""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out


class Arbiter(wiring.Component):
    """`n` inputs of `layout` onto one output. An input keeps the output until a transfer with its
    `last` member set (every transfer when `framed` is False); then the next input that has
    something in round-robin order takes over, as does one when the granted input is idle."""

    def __init__(self, layout, n: int, *, framed: bool = True):
        self.n, self.framed = n, framed
        super().__init__({"i": In(stream.Signature(layout)).array(n), "o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        grant = Signal(range(self.n))
        locked = Signal()  # inside a frame
        with m.Switch(grant):
            for g, port in enumerate(self.i):
                with m.Case(g):
                    m.d.comb += [self.o.valid.eq(port.valid), self.o.payload.eq(port.payload),
                                 port.ready.eq(self.o.ready)]
        moved = self.o.valid & self.o.ready
        ends = moved & (self.o.payload.last if self.framed else 1)
        with m.If(moved):
            m.d.sync += locked.eq(~ends)
        with m.If(ends | (~locked & ~self.o.valid)):
            with m.Switch(grant):
                for g in range(self.n):
                    with m.Case(g):
                        for k in reversed(range(1, self.n + 1)):  # the nearest requester after g wins
                            with m.If(self.i[(g + k) % self.n].valid):
                                m.d.sync += grant.eq((g + k) % self.n)
        return m


class Fanout(wiring.Component):
    """One stream to `n` consumers: each transfer reaches every consumer once, at its own pace;
    the input moves on when all have taken it."""

    def __init__(self, layout, n: int):
        self.n = n
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout)).array(n)})

    def elaborate(self, platform):
        m = Module()
        taken = Signal(self.n)  # consumers that already have the current transfer
        done = [taken[k] | port.ready for k, port in enumerate(self.o)]
        for k, port in enumerate(self.o):
            m.d.comb += [port.valid.eq(self.i.valid & ~taken[k]), port.payload.eq(self.i.payload)]
            with m.If(port.valid & port.ready):
                m.d.sync += taken[k].eq(1)
        m.d.comb += self.i.ready.eq(Cat(*done).all())
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += taken.eq(0)
        return m


class Queue(wiring.Component):
    """A FIFO of `depth` records of `layout`, as streams; `i.ready` and `o.valid` are registers.

    Its rate, streaming with `o` always ready: one record a cycle from `depth` 3 on, one every
    other cycle at `depth` 2 (`amaranth.lib.fifo.SyncFIFOBuffered`: one entry and its output
    register, the entry not refilled in the cycle it is emptied)."""

    def __init__(self, layout, depth: int):
        self.depth = depth
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = q = fifo.SyncFIFOBuffered(width=len(self.i.payload.as_value()), depth=self.depth)
        m.d.comb += [q.w_en.eq(self.i.valid), q.w_data.eq(self.i.payload), self.i.ready.eq(q.w_rdy),
                     self.o.valid.eq(q.r_rdy), self.o.payload.eq(q.r_data), q.r_en.eq(self.o.ready)]
        return m


class Register(wiring.Component):
    """A stream through one register: `o`'s valid and payload come from flip-flops (a pipeline
    stage after a slow source, such as a block RAM's output); `i` is ready whenever the register
    is empty or being emptied, so a transfer a cycle passes at full rate."""

    def __init__(self, layout):
        super().__init__({"i": In(stream.Signature(layout)), "o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.eq(self.i.payload)]
        return m
