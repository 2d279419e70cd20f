"""The UART bridge's host port (frames to and from the appliance's host port over the serial
line) with the host's UartTransport, in Amaranth's simulator: the frames the host sends must come
out of `from_host` byte for byte, each as one unbroken burst of beats; the frames put into
`to_host` must reach the host byte for byte and in order; refused, oversized and abandoned
frames are reported, dropped and counted as the protocol (docs/boards.md) says."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In
from uart_serial import SimulatedSerial

from espline.gateware.csr import wishbone
from espline.gateware.csr.uart_bridge import UartBridge
from espline.host.transport.uart import FrameRefused, UartTransport
from espline.sim.packetbus import put_frame

DIVISOR = 4
TIMEOUT = 200
BUFFER = 64  # the bridge's frame buffer (bytes) in these tests


class Scratch(wiring.Component):
    """A Wishbone slave of one read/write register (every address), answering in one cycle."""

    bus: In(wishbone.Signature(4))

    def elaborate(self, platform):
        m = Module()
        value = Signal(32)
        m.d.sync += self.bus.ack.eq(self.bus.cyc & self.bus.stb & ~self.bus.ack)
        m.d.comb += self.bus.dat_r.eq(value)
        with m.If(self.bus.cyc & self.bus.stb & self.bus.we & ~self.bus.ack):
            m.d.sync += value.eq(self.bus.dat_w)
        return m


class Bridged(wiring.Component):
    def __init__(self, width: int):
        self.bridge = UartBridge(4, DIVISOR, TIMEOUT, width=width, frame_bytes=BUFFER)
        self.scratch = Scratch()
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge, m.submodules.scratch = self.bridge, self.scratch
        wiring.connect(m, self.bridge.bus, self.scratch.bus)
        return m


class HostPortBench:
    """The bridge on a simulated serial line; frames out of `from_host` are collected (random
    stalls), frames queued in `to_send` go into `to_host` (random gaps)."""

    def __init__(self, width: int, seed: int):
        self.width, self.rng = width, random.Random(seed)
        self.top = Bridged(width)
        self.received, self.to_send, self.dropped, self.gaps = [], [], 0, 0
        self.serial = SimulatedSerial(self.top, self.top.bridge, DIVISOR, [self._sink, self._source, self._drops])
        self.host = UartTransport(self.serial)

    async def _sink(self, ctx):
        port, frame, inside = self.top.bridge.from_host, b"", False
        while True:
            ready = self.rng.random() < 0.7
            ctx.set(port.ready, ready)
            _, _, valid, beat = await ctx.tick().sample(port.valid, port.payload)
            if inside and not valid:
                self.gaps += 1  # a frame's beats must follow one another: no idle cycle inside
            if valid and ready:
                assert beat.first == (not inside) and (beat.last or beat.nbytes == self.width)
                frame += beat.data.to_bytes(self.width, "little")[: beat.nbytes]
                inside = not beat.last
                if beat.last:
                    self.received.append(frame)
                    frame = b""

    async def _source(self, ctx):
        while True:
            if self.to_send:
                await put_frame(ctx, self.top.bridge.to_host, self.to_send.pop(0), self.width, self.rng, idle=0.3)
            else:
                await ctx.tick()

    async def _drops(self, ctx):
        while True:
            _, _, pulse = await ctx.tick().sample(self.top.bridge.to_host_dropped)
            self.dropped += pulse


def frames(rng, width, n):
    sizes = [1, width - 1 or 2, width, width + 1, BUFFER - 1, BUFFER] + [rng.randrange(1, BUFFER + 1) for _ in range(n)]
    return [rng.randbytes(size) for size in sizes]


def poll(host, n, between=lambda got: None, limit=50):
    """`n` frames polled from the bridge (at most `limit` empty polls)."""
    got = []
    for _ in range(n + limit):
        frame = host.receive_frame()
        if frame is not None:
            got.append(frame)
        if len(got) == n:
            return got
        between(got)
    raise AssertionError(f"{len(got)} of {n} frames reached the host")


@pytest.mark.parametrize("width", [2, 4])
def test_frames_from_the_host(width):
    bench = HostPortBench(width, seed=width)
    sent = frames(bench.rng, width, 2)
    for k, frame in enumerate(sent):
        bench.host.send_frame(frame)
        assert bench.received == sent[: k + 1]  # 'f' comes once the frame has entered the datapath
        bench.host.write(0, k)  # registers in between
        assert bench.host.read(0) == k
    assert bench.gaps == 0


@pytest.mark.parametrize("width", [2, 4])
def test_frames_to_the_host(width):
    bench = HostPortBench(width, seed=10 + width)
    assert bench.host.receive_frame() is None
    sent = frames(bench.rng, width, 2)
    bench.to_send.extend(sent)
    assert poll(bench.host, len(sent), between=lambda got: bench.host.write(0, len(got))) == sent
    assert bench.dropped == 0
    assert bench.host.receive_frame() is None


def test_refused_and_dropped_frames():
    bench = HostPortBench(2, seed=3)
    with pytest.raises(FrameRefused):
        bench.host.send_frame(bytes(BUFFER + 1))  # read and discarded by the bridge, then 'x'
    assert bench.received == []
    bench.serial.write(b"F\x00\x00")  # an empty frame, which the transport would not send
    assert bench.serial.read(1) == b"x"
    with pytest.raises(ValueError):
        bench.host.send_frame(b"")
    bench.host.send_frame(b"\x01\x02\x03")
    assert bench.received == [b"\x01\x02\x03"]

    ok = bench.rng.randbytes(BUFFER - 10)
    # an empty frame and one too long for the buffer: each dropped, counted
    bench.to_send.extend([b"", bytes(BUFFER + 2), ok])
    assert poll(bench.host, 1) == [ok] and bench.dropped == 2


def test_an_abandoned_frame_is_forgotten():
    bench = HostPortBench(2, seed=4)
    bench.serial.write(b"F\x00\x10" + b"RRRRR")  # 16 bytes announced, 5 sent (bytes that look like commands)
    bench.serial.idle(TIMEOUT + 40 * DIVISOR * 10)
    assert bench.serial.read(1, budget=0) == b""
    frame = bytes(range(40))
    bench.host.send_frame(frame)
    assert bench.received == [frame]
    assert bench.host.read(0) == 0
