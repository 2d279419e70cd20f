"""Release a stored frame only with its own decision (docs/invariants.md: frames and decisions in
step).

A direction's packet buffer and its control both number every frame they take in (`FRAME_TAG`,
counted from the same transfers). Here the stored frames (`frame`, with their number on `tag`)
meet the decisions (`job`, whose layout has a `tag` member). A job goes out on `job_o` only when
the frame at the head of `frame` carries its number, and then exactly that frame follows on
`frame_o`, whole. A pair that does not match is never released: the older of the two (the one
whose partner was lost) is dropped whole, `desync` pulses and an event is raised, and the next
pair is tried. In a correct design this never happens (docs/verification.md); it is the reason
no fault upstream can release one frame under another's decision.
"""

from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..packet import FRAME_TAG, packet_signature


def behind(a, b):
    """Frame number `a` was taken in before `b` (both modulo 256; fewer than 128 apart)."""
    return (b - a)[: FRAME_TAG.width - 1].any() & ~(b - a)[FRAME_TAG.width - 1]


class FrameJoin(wiring.Component):
    def __init__(self, job: data.StructLayout, width: int = 16):
        if "tag" not in job.members:
            raise ValueError("job: the layout has no 'tag' member")
        self.width = width
        super().__init__({
            "frame": In(packet_signature(width)), "tag": In(FRAME_TAG),
            "job": In(stream.Signature(job)),
            "frame_o": Out(packet_signature(width)), "job_o": Out(stream.Signature(job)),
            "desync": Out(1),  # pulses when a frame or a job without its partner is dropped
        })

    def elaborate(self, platform):
        m = Module()
        both = self.frame.valid & self.job.valid
        job_tag = self.job.payload.tag
        m.d.comb += [self.job_o.payload.eq(self.job.payload), self.frame_o.payload.eq(self.frame.payload)]
        with m.FSM():
            with m.State("PAIR"):
                with m.If(both & (job_tag == self.tag)):
                    m.d.comb += [self.job_o.valid.eq(1), self.job.ready.eq(self.job_o.ready)]
                    with m.If(self.job_o.ready):
                        m.next = "FRAME"
                with m.Elif(both & behind(self.tag, job_tag)):  # a frame without a decision
                    m.d.comb += self.desync.eq(1)
                    m.next = "DISCARD"
                with m.Elif(both):  # a decision without its frame
                    m.d.comb += [self.job.ready.eq(1), self.desync.eq(1)]
            with m.State("FRAME"):
                m.d.comb += [self.frame_o.valid.eq(self.frame.valid), self.frame.ready.eq(self.frame_o.ready)]
                with m.If(self.frame.valid & self.frame.ready & self.frame.payload.last):
                    m.next = "PAIR"
            with m.State("DISCARD"):
                m.d.comb += self.frame.ready.eq(1)
                with m.If(self.frame.valid & self.frame.payload.last):
                    m.next = "PAIR"
        return m
