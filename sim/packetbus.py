"""Amaranth-simulator helpers that put and take whole frames on the packet bus
(`espline.gateware.packet`), with random idle cycles and stalls."""

import random

from amaranth.sim import Simulator


def beats(frame: bytes, width: int):
    """The beats of one frame as dicts of the packet bus layout."""
    chunks = [frame[i : i + width] for i in range(0, len(frame), width)] or [b""]
    return [{"data": int.from_bytes(c, "little"), "nbytes": len(c), "first": i == 0, "last": i == len(chunks) - 1}
            for i, c in enumerate(chunks)]


async def put_frame(ctx, port, frame: bytes, width: int, rng: random.Random, idle: float = 0.0):
    """Drive one frame into a packet-bus sink, idling randomly between beats."""
    for beat in beats(frame, width):
        while rng.random() < idle:
            ctx.set(port.valid, 0)
            await ctx.tick()
        ctx.set(port.valid, 1)
        ctx.set(port.payload, beat)
        await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def take_frame(ctx, port, width: int, rng: random.Random, stall: float = 0.0) -> bytes:
    """Collect one frame from a packet-bus source, stalling randomly; checks the framing."""
    out, first = b"", True
    while True:
        ready = rng.random() >= stall
        ctx.set(port.ready, ready)
        _, _, valid, beat = await ctx.tick().sample(port.valid, port.payload)
        if valid and ready:
            assert beat.first == first
            assert beat.last or beat.nbytes == width
            out += beat.data.to_bytes(width, "little")[: beat.nbytes]
            first = False
            if beat.last:
                ctx.set(port.ready, 0)
                return out


async def collect(ctx, port, out: list, rng: random.Random, stall: float = 0.0):
    """Take every transfer of a stream into `out` (its payloads), stalling randomly; run it in
    the background (`simulate(..., background=...)`)."""
    while True:
        ready = rng.random() >= stall
        ctx.set(port.ready, ready)
        _, _, valid, payload = await ctx.tick().sample(port.valid, port.payload)
        if valid and ready:
            out.append(payload)


def fragment_bytes(fragment, width: int) -> bytes:
    """The bytes a fragment (`espline.gateware.repack.fragment_layout`) carries."""
    return fragment.data.to_bytes(width, "little")[fragment.lo : fragment.lo + fragment.n]


def simulate(dut, *testbenches, cycles: int | None = None, stuck=lambda: "the testbenches did not finish",
             background=()):
    """Run `testbenches` against `dut` on a 100 MHz clock until they finish (`background` ones
    run alongside and stop with them); with `cycles`, fail with `stuck()` if they have not
    finished by then (a deadlock in the design)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bench in testbenches:
        sim.add_testbench(bench)
    for bench in background:
        sim.add_testbench(bench, background=True)
    if cycles is not None:
        async def watchdog(ctx):
            await ctx.delay(1e-8 * cycles)
            raise AssertionError(stuck())
        sim.add_testbench(watchdog, background=True)
    sim.run()
