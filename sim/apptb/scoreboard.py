"""Scoreboard: what the appliance must emit, from the reference model, and the check of what it did.

Expected frames: every frame fed on an input port goes through a model `Appliance` configured
like the DUT, in that port's input order (:meth:`Scoreboard.feed`). The three directions share
no mutable state (outbound SAs serve PLAIN, inbound SAs CIPHER, HOST touches none; the global
counters only add up), so running the model per input port in order gives the same verdicts as
any interleaving of the ports in the DUT. Each output port then must show, bit-exact, the
expected frames of each input port in that port's order; ``cipher_o`` may interleave the
frames from ``plain_i`` and ``host_i`` in any way, ``plain_o`` the decapsulated frames from
``cipher_i`` and the ICMP answers to too-big frames from ``plain_i`` (docs/model.md).
Nothing missing, nothing extra - except
punted frames the DUT's host queue dropped (it was full: the model has none): ``host_o`` may
skip expected frames, and exactly as many as its ``punt_dropped`` counter says.

Counters (docs/invariants.md §3): every global counter, and per SA packets, bytes, auth_fail,
replay, and seq (the last sequence number sent by an outbound SA; the top of an inbound SA's
replay window, RFC 4303 §3.4.3). Events: soft/hard lifetime and sequence exhaustion per SA.
"""

from collections import Counter, deque
from pathlib import Path

from espline.host.driver import EVENTS
from espline.sim.model import Appliance, Port
from espline.sim.pcap import write_frames

__all__ = ["EVENT_NAMES", "PORT_NAMES", "Mismatch", "Scoreboard", "first_difference"]

#: The register map's name of each model event (as ``driver.poll_event()`` gives it), as the driver pairs them.
EVENT_NAMES = {model: name for name, model in EVENTS.items()}

#: Model port of each DUT port name, both directions.
PORT_NAMES = {"plain_i": Port.PLAIN, "cipher_i": Port.CIPHER, "host_i": Port.HOST,
              "plain_o": Port.PLAIN, "cipher_o": Port.CIPHER, "host_o": Port.HOST}
_IN_NAME = {Port.PLAIN: "plain_i", Port.CIPHER: "cipher_i", Port.HOST: "host_i"}
_OUT_NAME = {Port.PLAIN: "plain_o", Port.CIPHER: "cipher_o", Port.HOST: "host_o"}


class Mismatch(AssertionError):
    pass


def first_difference(got: bytes, expected: bytes) -> str:
    """Where two frames first differ, as text."""
    n = next((i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), None)
    if n is None:
        return f"{len(got)} bytes, expected {len(expected)} (equal up to byte {min(len(got), len(expected))})"
    return f"byte {n} is {got[n]:#04x}, expected {expected[n]:#04x} ({len(got)} bytes, expected {len(expected)})"


class Scoreboard:
    """``dump``: a path prefix; on a wrong or extra frame, ``<dump>-<port>-<n>.pcap`` gets the
    input frame, the expected and the received frame (for Wireshark/tshark). ``pad``: frames
    expected out of ``plain_o`` and ``cipher_o`` are padded with zeros to this many bytes, as an
    Ethernet MAC sends them (60: IEEE 802.3 clause 3.2.8; 0: as the appliance emits them)."""

    def __init__(self, model: Appliance, dump: str | Path | None = None, pad: int = 0):
        self.model, self.dump, self.pad = model, dump, pad
        self.fed = {p: 0 for p in Port}  # frames fed per input port
        self.received = {p: 0 for p in Port}  # frames received per output port
        # expected[out][in]: deque of (input frame index, input frame, expected frame)
        self.expected = {o: {i: deque() for i in Port} for o in Port}
        self.skipped = 0  # expected frames host_o went past (the host queue dropped them)

    def feed(self, port: Port | str, frame: bytes) -> None:
        """``frame`` goes into the DUT on ``port``: run it through the model."""
        port = PORT_NAMES.get(port, port)
        index = self.fed[port]
        self.fed[port] += 1
        verdict = self.model.process(port, frame)
        if verdict.port is not None:
            self.expected[verdict.port][port].append((index, frame, self._padded(verdict.port, verdict.frame)))
        if verdict.answer is not None:  # ICMP "fragmentation needed", back out of the plaintext side
            self.expected[Port.PLAIN][port].append((index, frame, self._padded(Port.PLAIN, verdict.answer)))

    def _padded(self, port: Port, frame: bytes) -> bytes:
        return frame if port is Port.HOST else frame + bytes(max(0, self.pad - len(frame)))

    def feed_all(self, inputs: dict) -> None:
        """Feed whole lists, {input port: frames}: all PLAIN frames, then CIPHER, then HOST."""
        for port in Port:
            for frame in inputs.get(port, inputs.get(_IN_NAME[port], ())):
                self.feed(port, frame)

    def receive(self, port: Port | str, frame: bytes) -> None:
        """``frame`` came out of the DUT on ``port``: it must be the next one expected from one
        of the inputs that feed this output."""
        port = PORT_NAMES.get(port, port)
        n = self.received[port]
        self.received[port] += 1
        heads = [(src, q[0]) for src, q in self.expected[port].items() if q]
        for src, (_, _, expected) in heads:
            if frame == expected:
                self.expected[port][src].popleft()
                return
        if port is Port.HOST:  # the frames before it may have been dropped by the host queue
            for q in self.expected[port].values():
                later = next((k for k, (_, _, expected) in enumerate(q) if expected == frame), None)
                if later is not None:
                    self.skipped += later
                    for _ in range(later + 1):
                        q.popleft()
                    return
        where = f"{_OUT_NAME[port]} frame {n}"
        dumped = self._dump(f"{_OUT_NAME[port]}-{n}", [f for _, (_, i, e) in heads for f in (i, e)] + [frame])
        if not heads:
            raise Mismatch(f"{where}: extra frame ({len(frame)} bytes), none expected; starts {frame[:32].hex()}"
                           + dumped)
        raise Mismatch(f"{where}: " + "; ".join(
            f"not {_IN_NAME[src]} frame {index}: {first_difference(frame, expected)}"
            for src, (index, _, expected) in heads) + dumped)

    def _dump(self, name: str, frames: list[bytes]) -> str:
        if self.dump is None:
            return ""
        path = Path(f"{self.dump}-{name}.pcap")
        write_frames(path, frames)
        return f" (frames in {path}: input, expected{', received' if name != 'missing' else ''})"

    @property
    def pending(self) -> int:
        """How many expected frames have not come out yet."""
        return sum(len(q) for by_src in self.expected.values() for q in by_src.values())

    @property
    def punts_lost(self) -> int:
        """Punted frames that did not come out of ``host_o``: skipped, or still expected."""
        return self.skipped + sum(len(q) for q in self.expected[Port.HOST].values())

    def missing(self, punts_lost: bool = False) -> str:
        """The frames still expected, per output and input port, as text ("" when none); with
        ``punts_lost``, not those on ``host_o``. With ``dump``, the first one of each (input and
        expected frame) goes to ``<dump>-missing.pcap``."""
        parts, frames = [], []
        for o, by_src in self.expected.items():
            for i, q in by_src.items():
                if q and not (punts_lost and o is Port.HOST):
                    parts.append(f"{_OUT_NAME[o]}<-{_IN_NAME[i]}: {len(q)} (first: input frame {q[0][0]})")
                    frames += q[0][1:]
        return "; ".join(parts) + self._dump("missing", frames) if parts else ""

    def check_drained(self, punt_dropped: int = 0) -> None:
        """Every expected frame came out, except the punted frames the DUT's host queue dropped:
        ``punt_dropped``, its counter."""
        missing = self.missing(punts_lost=True)
        if missing:
            raise Mismatch(f"missing frames: {missing}")
        if self.punts_lost != punt_dropped:
            raise Mismatch(f"host_o: {self.punts_lost} punted frame(s) missing, punt_dropped counts {punt_dropped}")

    def expected_sa_counters(self) -> dict[tuple[str, int], dict[str, int]]:
        """Per SA (dir, spi): packets, bytes, auth_fail, replay, seq, as the model counted them."""
        out = {}
        for sa in self.model.sad:
            c = sa.counters
            out[sa.dir, sa.spi] = {"packets": c.packets, "bytes": c.bytes, "auth_fail": c.auth_fail,
                                   "replay": c.replay, "seq": sa.seq if sa.dir == "out" else sa.window.top}
        return out

    def check_counters(self, global_counters: dict[str, int], sa_counters: dict[tuple[str, int], dict]) -> None:
        """Compare the DUT's counters (``driver.global_counters()`` and, per (dir, spi), the fields
        of ``driver.sa_counters(index)``) with the model's; one message lists every difference."""
        errors = []
        want = {**self.model.counters.as_dict(), "punt_dropped": self.punts_lost}
        for name in sorted(set(want) | set(global_counters)):
            if global_counters.get(name) != want.get(name):
                errors.append(f"global {name}: {global_counters.get(name)}, expected {want.get(name)}")
        for key, fields in self.expected_sa_counters().items():
            got = sa_counters.get(key)
            if got is None:
                errors.append(f"SA {key[1]:#x} ({key[0]}): counters not read")
                continue
            for name, value in fields.items():
                if got[name] != value:
                    errors.append(f"SA {key[1]:#x} ({key[0]}) {name}: {got[name]}, expected {value}")
        if errors:
            raise Mismatch(f"{len(errors)} counter(s) differ: " + "; ".join(errors))

    def check_events(self, got: list[tuple[str, int]], index_of, *, lost: bool = False) -> None:
        """The SA events the DUT raised, as ``driver.poll_event()`` gives them ((kind, SA index)),
        against the model's, as multisets (the directions raise theirs independently). ``index_of(dir,
        spi)``: an SA's table index. ``lost``: the event FIFO overflowed; then none may be unexpected."""
        want = Counter((EVENT_NAMES[e], index_of(sa.dir, sa.spi)) for e, sa in self.model.events)
        have = Counter(got)
        extra, missing = have - want, want - have
        if extra or (missing and not lost):
            raise Mismatch(f"events: unexpected {sorted(extra.elements())}, missing {sorted(missing.elements())}"
                           + (" (FIFO overflowed)" if lost else ""))
