"""The outbound direction (plaintext side -> ciphertext side): parse, store, decide, encapsulate.

Frames are stored whole while `OutboundControl` decides them from their parsed headers, so
the decision (SPD, SA, sequence number) is made once per frame and the encapsulator streams
the frame out of the store in one pass. Every frame, of any length, is stored (an empty or
oversize one as a placeholder) and decided; `FrameJoin` hands the encapsulator a frame only
with its own decision (docs/invariants.md).
"""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature
from .encapsulator import Encapsulator
from .frame_join import FrameJoin
from .outbound_control import OutboundControl
from .packet_buffer import PacketBuffer
from .parser import FrameParser


class Outbound(wiring.Component):
    def __init__(self, sa_write: data.StructLayout, counters: data.StructLayout, event: data.StructLayout,
                 n_sa: int, n_policy: int, *, config: str = "wide", width: int = 16, store_words: int = 1024,
                 max_frame: int = 9216, **options):
        self.control = OutboundControl(sa_write, counters, event, n_sa, n_policy, **options)
        self.encap = Encapsulator(n_sa, width=width, config=config)
        if max_frame > store_words * width:
            raise ValueError(f"max_frame: {max_frame} bytes do not fit the {store_words * width}-byte store")
        self.width, self.store_words, self.max_frame = width, store_words, max_frame
        c = self.control.signature.members
        super().__init__({
            "i": In(packet_signature(width)), "o": Out(packet_signature(width)),
            **{name: c[name] for name in ("sa_write", "lookup", "policy", "counts", "events", "counter_request",
                                          "counter_response")},
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.parser = parser = FrameParser(self.width, max_frame=self.max_frame)
        m.submodules.store = store = PacketBuffer(self.width, depth=self.store_words, placeholders=True)
        m.submodules.control = control = self.control
        m.submodules.join = join = FrameJoin(control.job.payload.shape(), self.width)
        m.submodules.encap = encap = self.encap
        wiring.connect(m, wiring.flipped(self.i), parser.i)
        wiring.connect(m, parser.o, store.i)
        m.d.comb += [store.commit.valid.eq(1), store.commit.payload.ok.eq(1), store.commit.payload.length.eq(-1)]
        wiring.connect(m, parser.parsed, control.parsed)
        wiring.connect(m, store.o, join.frame)
        wiring.connect(m, control.job, join.job)
        m.d.comb += join.tag.eq(store.tag)
        wiring.connect(m, join.frame_o, encap.frame)
        wiring.connect(m, join.job_o, encap.job)
        wiring.connect(m, encap.o, wiring.flipped(self.o))
        for name in ("sa_write", "policy", "counter_request"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(control, name))
        for name in ("lookup", "events", "counter_response"):
            wiring.connect(m, getattr(control, name), wiring.flipped(getattr(self, name)))
        m.d.comb += [self.counts.eq(control.counts), self.counts.drop_desync.eq(join.desync)]
        return m
