"""The registered boundary of `espline run`'s model (espline.sim.live.boundary) changes only the
ports' latency: frames pass each port whole under random stalls, every bus command driven as the
harness drives it (stb dropped in the cycle that shows ack) is one access of a register file with
espline's bus timing, and `idle` is never 1 while a beat is inside."""

import random

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from espline.gateware.csr import wishbone
from espline.gateware.packet import beat_layout, packet_signature
from espline.gateware.plumbing import Register
from espline.sim.live.boundary import Boundary
from espline.sim.packetbus import put_frame, take_frame

WIDTH = 16
ROUTES = (("plain_i", "cipher_o"), ("cipher_i", "plain_o"), ("host_i", "host_o"))


class StandIn(wiring.Component):
    """The appliance's ports with simple behaviour: each input to one output through a register
    stage; a bus slave with the timing of `espline.gateware.csr.regfile` (a request is decoded
    when `cyc & stb` and no `ack` is pending, `ack` and read data a cycle later) whose reads
    return how many accesses came before; `idle` when the registers are empty."""

    def __init__(self):
        self.width = WIDTH
        ports = {name: (In if name.endswith("_i") else Out)(packet_signature(WIDTH)) for route in ROUTES
                 for name in route}
        super().__init__({**ports, "bus": In(wishbone.Signature(9)), "irq": Out(1), "idle": Out(1)})

    def elaborate(self, platform):
        m = Module()
        idle = 1
        for src, dst in ROUTES:
            stage = m.submodules[src] = Register(beat_layout(WIDTH))
            wiring.connect(m, wiring.flipped(getattr(self, src)), stage.i)
            wiring.connect(m, stage.o, wiring.flipped(getattr(self, dst)))
            idle &= ~stage.o.valid
        accesses = Signal(32)
        decode = self.bus.cyc & self.bus.stb & ~self.bus.ack
        m.d.sync += self.bus.ack.eq(decode)
        with m.If(decode):
            m.d.sync += [accesses.eq(accesses + 1), self.bus.dat_r.eq(accesses)]
        m.d.comb += self.idle.eq(idle)
        return m


def test_ports_pass_frames_and_each_bus_command_is_one_access():
    rng = random.Random(5)
    dut = Boundary(StandIn())
    frames = {src: [rng.randbytes(rng.randint(1, 100)) for _ in range(12)] for src, _ in ROUTES}
    got = {dst: [] for _, dst in ROUTES}
    replies, inside = [], {"beats": 0, "idle_while_inside": 0}

    def source(src):
        async def bench(ctx):
            for frame in frames[src]:
                await put_frame(ctx, getattr(dut, src), frame, WIDTH, rng, 0.3)
        return bench

    def sink(dst):
        async def bench(ctx):
            while len(got[dst]) < len(frames[dict((d, s) for s, d in ROUTES)[dst]]):
                got[dst].append(await take_frame(ctx, getattr(dut, dst), WIDTH, rng, 0.3))
        return bench

    async def master(ctx):  # as harness.cpp: stb until the cycle that shows ack, the next command at once or later
        for n in range(40):
            ctx.set(dut.bus.cyc, 1)
            ctx.set(dut.bus.stb, 1)
            ctx.set(dut.bus.adr, n)
            await ctx.tick()
            while not ctx.get(dut.bus.ack):
                await ctx.tick()
            replies.append(ctx.get(dut.bus.dat_r))
            if rng.random() < 0.5:
                ctx.set(dut.bus.cyc, 0)
                ctx.set(dut.bus.stb, 0)
                await ctx.tick().repeat(rng.randint(1, 3))
        ctx.set(dut.bus.cyc, 0)
        ctx.set(dut.bus.stb, 0)

    async def watch(ctx):  # `idle` in a cycle: no beat taken in and not yet out before that cycle
        ports = [getattr(dut, name) for route in ROUTES for name in route]
        async for _, _, idle, *handshakes in ctx.tick().sample(dut.idle, *(p.valid for p in ports),
                                                               *(p.ready for p in ports)):
            inside["idle_while_inside"] += bool(idle and inside["beats"])
            moved = [v and r for v, r in zip(handshakes[:6], handshakes[6:], strict=True)]
            inside["beats"] += sum(moved[0::2]) - sum(moved[1::2])

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for src, dst in ROUTES:
        sim.add_testbench(source(src))
        sim.add_testbench(sink(dst))
    sim.add_testbench(master)
    sim.add_testbench(watch, background=True)
    sim.run()
    assert got == {dst: frames[src] for src, dst in ROUTES}
    assert replies == list(range(40))
    assert inside == {"beats": 0, "idle_while_inside": 0}
