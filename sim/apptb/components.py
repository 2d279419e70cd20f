"""cocotb bus components for the appliance's ports, clocked by one loop (:class:`.tb.ApplianceBench`).

Every component has ``drive()`` (called just after a rising edge: set the inputs for this
cycle) and ``sample()`` (called in the read-only phase: see what the handshakes did). One
coroutine calls them all, two triggers per cycle for the whole bench; a coroutine per port
would cost two triggers per port and cycle, and Python, not the simulator, sets the pace.

Packet bus (``espline.gateware.packet``): a beat is ``data`` (byte i in bits 8i+7:8i) ‖
``nbytes`` ‖ ``first`` ‖ ``last``, packed from bit 0 into one ``<port>__payload`` vector.
Stream rule (amaranth.lib.stream): once ``valid`` is up, it and the payload hold until
``ready``.
"""

import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from cocotb.triggers import Event

__all__ = ["PacketSink", "PacketSource", "Stalls", "WishboneMaster", "decode_beat", "encode_frame"]


def encode_frame(frame: bytes, width: int) -> list[int]:
    """The packed beats of one frame (an empty frame is one beat with ``nbytes`` 0)."""
    dbits, nbits = 8 * width, width.bit_length()
    chunks = [frame[i:i + width] for i in range(0, len(frame), width)] or [b""]
    last = len(chunks) - 1
    first_bit, last_bit = dbits + nbits, dbits + nbits + 1
    return [int.from_bytes(c, "little") | len(c) << dbits | (n == 0) << first_bit | (n == last) << last_bit
            for n, c in enumerate(chunks)]


def decode_beat(beat: int, width: int) -> tuple[bytes, int, bool, bool]:
    """(all ``width`` data bytes, nbytes, first, last) of a packed beat."""
    dbits, nbits = 8 * width, width.bit_length()
    return ((beat & ((1 << dbits) - 1)).to_bytes(width, "little"), beat >> dbits & ((1 << nbits) - 1),
            bool(beat >> (dbits + nbits) & 1), bool(beat >> (dbits + nbits + 1) & 1))


class _Wire:
    """A DUT input written only when its value changes (each write is a simulator call)."""

    def __init__(self, handle, value=0):
        self.handle, self.value = handle, value
        handle.value = value

    def set(self, value) -> None:
        if value != self.value:
            self.handle.value = self.value = value


class Stalls:
    """On/off cycles, on a fraction ``prob`` of them; with ``burst`` > 1 the state is redrawn only
    after a random number of cycles averaging ``burst`` (long stalls as well as single idle cycles)."""

    def __init__(self, prob: float, burst: float, seed: int | str):
        self.prob, self.burst, self.rng = prob, burst, random.Random(seed)
        self._on, self._left = True, 0

    def __call__(self) -> bool:
        if self.prob >= 1.0:
            return True
        if self.burst <= 1:
            return self.rng.random() < self.prob
        if not self._left:
            self._on = self.rng.random() < self.prob
            self._left = 1 + int(self.rng.expovariate(1 / (self.burst - 0.5)))
        self._left -= 1
        return self._on


class PacketSource:
    """Drives whole frames into a packet-bus input (``<name>__valid/ready/payload``).

    Frames come from :meth:`send` or lazily from :meth:`feed` (an iterator, pulled one frame at
    a time so a million-frame run never holds them all). Before each beat, ``valid`` stays low
    with probability ``1 - valid_prob`` per cycle (in runs averaging ``burst``, see
    :class:`Stalls`). ``on_frame(frame)`` runs when a frame is
    taken up (before its first beat); ``sent`` counts frames whose last beat was accepted.
    """

    def __init__(self, dut, name: str, width: int = 16, *, valid_prob: float = 1.0, burst: float = 1,
                 seed: int | str = 0, on_frame: Callable[[bytes], None] | None = None):
        self.name, self.width = name, width
        self.valid = _Wire(getattr(dut, f"{name}__valid"))
        self.payload = _Wire(getattr(dut, f"{name}__payload"))
        self.ready = getattr(dut, f"{name}__ready")
        self.go, self.on_frame = Stalls(valid_prob, burst, seed), on_frame
        self.queue: deque[bytes] = deque()
        self._feed: Iterator[bytes] | None = None
        self._beats: deque[int] = deque()
        self._offer: int | None = None  # the beat on the bus, or None
        self._last = False
        self.sent = 0
        self.beats = 0

    def send(self, frame: bytes) -> None:
        self.queue.append(frame)

    def feed(self, frames: Iterable[bytes]) -> None:
        """Take frames from ``frames`` after the queue (replaces an earlier feed)."""
        self._feed = iter(frames)

    @property
    def done(self) -> bool:
        """Every frame sent: nothing queued, left in the feed (peeks one ahead) or on the bus."""
        if self._offer is None and not self._beats and not self.queue and self._feed is not None:
            frame = next(self._feed, None)
            if frame is None:
                self._feed = None
            else:
                self.queue.append(frame)
        return self._offer is None and not self._beats and not self.queue and self._feed is None

    def _next_frame(self) -> bytes | None:
        if self.queue:
            return self.queue.popleft()
        if self._feed is not None:
            frame = next(self._feed, None)
            if frame is None:
                self._feed = None
            return frame
        return None

    def drive(self) -> None:
        if self._offer is not None:
            return
        if not self._beats:
            frame = self._next_frame()
            if frame is None:
                self.valid.set(0)
                return
            if self.on_frame is not None:
                self.on_frame(frame)
            self._beats.extend(encode_frame(frame, self.width))
        if not self.go():
            self.valid.set(0)
            return
        self._offer = self._beats.popleft()
        self._last = not self._beats
        self.payload.set(self._offer)
        self.valid.set(1)

    def sample(self) -> None:
        if self._offer is not None and self.ready.value:
            self.beats += 1
            self.sent += self._last
            self._offer = None


class PacketSink:
    """Takes frames from a packet-bus output, ``ready`` high with probability ``ready_prob``
    per cycle (runs averaging ``burst``); checks the framing (``first`` exactly on a frame's first beat, ``nbytes`` full
    except on the last beat) and hands each frame to ``on_frame(frame)`` or ``frames``."""

    def __init__(self, dut, name: str, width: int = 16, *, ready_prob: float = 1.0, burst: float = 1,
                 seed: int | str = 0, on_frame: Callable[[bytes], None] | None = None):
        self.name, self.width = name, width
        self.ready = _Wire(getattr(dut, f"{name}__ready"))
        self.valid = getattr(dut, f"{name}__valid")
        self.payload = getattr(dut, f"{name}__payload")
        self.go = Stalls(ready_prob, burst, seed)
        self.on_frame = on_frame
        self.frames: list[bytes] = []
        self._parts: list[bytes] = []
        self.received = 0
        self.beats = 0

    def drive(self) -> None:
        self.ready.set(int(self.go()))

    def sample(self) -> None:
        if not (self.ready.value and self.valid.value):
            return
        data, nbytes, first, last = decode_beat(self.payload.value.to_unsigned(), self.width)
        where = f"{self.name}: frame {self.received}, beat {len(self._parts)}"
        if first != (not self._parts):
            raise AssertionError(f"{where}: first={int(first)} on a {'later' if self._parts else 'first'} beat")
        if nbytes > self.width or (not last and nbytes != self.width) or (last and nbytes == 0 and not first):
            raise AssertionError(f"{where}: nbytes={nbytes} on a {'last' if last else 'middle'} beat")
        self.beats += 1
        self._parts.append(data[:nbytes])
        if last:
            frame = b"".join(self._parts)
            self._parts = []
            self.received += 1
            if self.on_frame is not None:
                self.on_frame(frame)
            else:
                self.frames.append(frame)

    @property
    def in_frame(self) -> bool:
        return bool(self._parts)


class _Cycle:
    __slots__ = ("address", "done", "error", "value", "wait", "write")

    def __init__(self, address: int, write: bool, value: int = 0):
        self.address, self.write, self.value, self.done = address, write, value, Event()
        self.wait, self.error = 0, None


class WishboneMaster:
    """Wishbone B4 classic single read/write cycles (B4 §3.2) of 32-bit words at byte addresses.

    The master holds ``cyc``/``stb`` and the address until it samples ``ack``; the next queued
    cycle may start on the following clock. A cycle not acknowledged within ``timeout`` clocks
    raises TimeoutError in its caller (a host driver call fails rather than hangs).
    """

    def __init__(self, dut, prefix: str = "bus", timeout: int = 1000):
        def sig(name, value=None):
            handle = getattr(dut, f"{prefix}__{name}")
            return handle if value is None else _Wire(handle, value)

        self.cyc, self.stb, self.we = sig("cyc", 0), sig("stb", 0), sig("we", 0)
        self.adr, self.dat_w, self.sel = sig("adr", 0), sig("dat_w", 0), sig("sel", 0b1111)
        self.dat_r, self.ack = sig("dat_r"), sig("ack")
        self._queue: deque[_Cycle] = deque()
        self._current: _Cycle | None = None
        self.timeout = timeout
        self.cycles = 0

    async def read(self, address: int) -> int:
        return await self._run(_Cycle(address, False))

    async def write(self, address: int, value: int) -> None:
        await self._run(_Cycle(address, True, value & 0xFFFFFFFF))

    async def _run(self, cycle: _Cycle) -> int:
        if cycle.address % 4:
            raise ValueError(f"address {cycle.address:#x} is not word aligned")
        self._queue.append(cycle)
        await cycle.done.wait()
        if cycle.error:
            raise TimeoutError(cycle.error)
        return cycle.value

    def drive(self) -> None:
        if self._current is None:
            if not self._queue:
                self.cyc.set(0)
                self.stb.set(0)
                return
            c = self._current = self._queue.popleft()
            self.adr.set(c.address >> 2)
            self.we.set(int(c.write))
            if c.write:
                self.dat_w.set(c.value)
            self.cyc.set(1)
            self.stb.set(1)

    def sample(self) -> None:
        c = self._current
        if c is None:
            return
        if self.ack.value:
            if not c.write:
                c.value = self.dat_r.value.to_unsigned()
            self.cycles += 1
        else:
            c.wait += 1
            if c.wait < self.timeout:
                return
            c.error = f"Wishbone {'write' if c.write else 'read'} at {c.address:#x}: no ack in {self.timeout} cycles"
        self._current = None  # done, or abandoned: cyc and stb drop on the next clock
        c.done.set()
