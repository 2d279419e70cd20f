"""Walk a stored frame once and split its bytes by region: what stays in clear and what the
GCM engine takes (RFC 4303 §3.3.2 / §3.4.4: the engine sees only the ESP payload).

Per frame one `SplitJob`, its `action` a `SplitAction`: `FORWARD` sends the whole frame to `head`,
`DROP` swallows it, and `SPLIT` cuts it at frame offsets a <= b <= c <= d:

    [0, a)  -> head (the headers that stay; the last of these fragments has `then_body` set)
    [a, b)  -> dropped (headers the body replaces)
    [b, c)  -> body (`last` on its final fragment if `cut`, so the engine's input ends there)
    [c, d)  -> body, `last` on its final fragment (decapsulation: the received ICV)
    [d, ..) -> dropped (Ethernet padding)

and then, if `extra_n` > 0, `extra` as one more body fragment with `last` (encapsulation: the
ESP trailer), or as several beat-wide ones on a bus narrower than `extra_n` bytes. `tag` travels
with every head fragment of the frame (e.g. "to the host").
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import beat_layout, packet_signature
from ..plumbing import Queue, Register
from ..repack import fragment_layout


class SplitAction(enum.Enum, shape=2):
    """What the splitter does with one frame (the module docstring)."""
    FORWARD = 0
    DROP = 1
    SPLIT = 2


FORWARD, DROP, SPLIT = SplitAction  # the decision codes of both directions' control blocks

SplitJob = data.StructLayout({"action": SplitAction, "tag": 1, "a": 16, "b": 16, "c": 16, "d": 16, "cut": 1,
                              "extra": 8 * 5, "extra_n": 3})


def head_layout(width: int) -> data.StructLayout:
    return data.StructLayout({"frag": fragment_layout(width), "then_body": 1, "tag": 1})


class Splitter(wiring.Component):
    def __init__(self, width: int = 16):
        self.width = width
        super().__init__({
            "frame": In(packet_signature(width)), "job": In(stream.Signature(SplitJob)),
            "head": Out(stream.Signature(head_layout(width))),
            "body": Out(stream.Signature(fragment_layout(width))),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width
        job = Signal(SplitJob)
        beat, head, body = self.frame.payload, self.head.payload, self.body.payload
        pos = Signal(16)  # frame offset of the current beat
        phase = Signal(2)  # regions of this beat already sent: prefix, body, tail

        def lane(offset):
            """`offset` as a lane of this beat, clamped to 0..nbytes."""
            x = (offset - pos).as_signed()
            return Mux(x[-1], 0, Mux(x > beat.nbytes, beat.nbytes, x))

        # this beat's lanes [lo, hi) of the regions prefix, body and tail; `has`: bytes not yet sent
        regions = [(Signal(range(w + 1), name=f"{r}_lo"), Signal(range(w + 1), name=f"{r}_hi"))
                   for r in ("prefix", "body", "tail")]
        for (lo, hi), (start, end) in zip(regions, ((None, job.a), (job.b, job.c), (job.c, job.d)), strict=True):
            m.d.comb += [lo.eq(0 if start is None else lane(start)), hi.eq(lane(end))]
        has = [(hi > lo) & (phase <= i) for i, (lo, hi) in enumerate(regions)]
        ends = [end - pos <= w for end in (job.a, job.c, job.d)]  # the region ends in this beat

        m.d.comb += [head.frag.data.eq(beat.data), body.data.eq(beat.data), head.tag.eq(job.tag)]
        take = Signal()
        with m.If(take):
            m.d.sync += [pos.eq(pos + w), phase.eq(0)]
        with m.FSM():
            with m.State("JOB"):
                m.d.comb += self.job.ready.eq(1)
                with m.If(self.job.valid):
                    m.d.sync += [job.eq(self.job.payload), pos.eq(0), phase.eq(0)]
                    with m.Switch(self.job.payload.action):
                        with m.Case(DROP):
                            m.next = "DROP"
                        with m.Case(SPLIT):
                            m.next = "SPLIT"
                        with m.Default():
                            m.next = "FORWARD"
            with m.State("DROP"):
                m.d.comb += self.frame.ready.eq(1)
                with m.If(self.frame.valid & beat.last):
                    m.next = "JOB"
            with m.State("FORWARD"):
                m.d.comb += [self.head.valid.eq(self.frame.valid), self.frame.ready.eq(self.head.ready),
                             head.frag.n.eq(beat.nbytes), head.frag.last.eq(beat.last)]
                with m.If(self.frame.valid & self.head.ready & beat.last):
                    m.next = "JOB"
            with m.State("SPLIT"):
                def send(port, i, last):
                    """Region i of this beat out on `port`; the beat is done when no later region has bytes."""
                    lo, hi = regions[i]
                    fragment = port.payload.frag if port is self.head else port.payload
                    m.d.comb += [port.valid.eq(self.frame.valid), fragment.lo.eq(lo), fragment.n.eq(hi - lo)]
                    m.d.comb += head.then_body.eq(last) if port is self.head else body.last.eq(last)
                    with m.If(self.frame.valid & port.ready):
                        with m.If(Cat(*has[i + 1 :]).any() if i < 2 else Const(0)):
                            m.d.sync += phase.eq(i + 1)
                        with m.Else():
                            m.d.comb += [self.frame.ready.eq(1), take.eq(1)]

                with m.If(has[0]):
                    send(self.head, 0, ends[0])
                with m.Elif(has[1]):
                    send(self.body, 1, job.cut & ends[1])
                with m.Elif(has[2]):
                    send(self.body, 2, ends[2])
                with m.Else():  # nothing left in this beat
                    m.d.comb += [self.frame.ready.eq(1), take.eq(self.frame.valid)]
                with m.If(take & beat.last):
                    m.next = "EXTRA"
            with m.State("EXTRA"):  # in fragments of at most a beat
                done = Signal(range(8))  # bytes of `extra` sent
                rest = Signal(range(8))
                m.d.comb += [rest.eq(job.extra_n - done), self.body.valid.eq(rest != 0),
                             body.data.eq(job.extra >> Cat(Const(0, 3), done)), body.lo.eq(0),
                             body.n.eq(Mux(rest > w, w, rest)), body.last.eq(rest <= w)]
                with m.If(self.body.ready & (rest > w)):
                    m.d.sync += done.eq(done + w)
                with m.Elif(self.body.ready | (rest == 0)):
                    m.d.sync += done.eq(0)
                    m.next = "JOB"
        return m


def connect_buffered(m: Module, splitter: "Splitter", frame, body):
    """Connect `frame` (a stream of stored beats) to `splitter` and its body to `body` so that its
    handshakes end at registers on both sides: the frame through a three-beat queue (the store's
    and join's enables see the queue's registered `ready`, not the splitter's cut comparisons;
    three, as a queue of two takes a beat only every other cycle), the body through a register
    stage (the gearbox behind it sees a registered fragment). A cycle more a frame and a cycle
    more its first body fragment."""
    m.submodules.splitter_frames = frames = Queue(beat_layout(splitter.width), 3)
    m.submodules.splitter_body = registered = Register(splitter.body.payload.shape())
    wiring.connect(m, frame, frames.i)
    wiring.connect(m, frames.o, splitter.frame)
    wiring.connect(m, splitter.body, registered.i)
    wiring.connect(m, registered.o, body)
