"""The outbound direction (plaintext side -> ciphertext side): parse, store, decide, encapsulate.

Frames are stored whole while `OutboundControl` decides them from their parsed headers, so
the decision (SPD, SA, sequence number) is made once per frame and the encapsulator streams
the frame out of the store in one pass. Every frame, of any length, is stored (an empty or
oversize one as a placeholder) and decided; the intake hands the encapsulator a frame only
with its own decision (`intake.py`, docs/invariants.md §6). Frames dropped too-big are answered
with ICMP "fragmentation needed" on `icmp_o`, for the plaintext side (`icmp_too_big.py`).
"""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature
from .encapsulator import Encapsulator
from .icmp_too_big import IcmpTooBig
from .intake import Intake
from .outbound_control import OutboundControl


class Outbound(wiring.Component):
    def __init__(self, sa: data.StructLayout, counters: data.StructLayout, event: data.StructLayout,
                 n_sa: int, n_policy: int, *, config: str = "wide", ghash_digit: int = 16, width: int = 16,
                 store_words: int = 1024,
                 max_frame: int = 9216, icmp_every: int = 16, icmp_burst: int = 4, **options):
        self.control = OutboundControl(sa, counters, event, n_sa, n_policy, **options)
        job = self.control.job.payload.shape()
        self.intake = Intake(job, width, store_words=store_words, max_frame=max_frame)
        self.encap = Encapsulator(n_sa, width=width, config=config, ghash_digit=ghash_digit)
        self.icmp = IcmpTooBig(job, mtu=self.control.mtu, every=icmp_every, burst=icmp_burst, width=width)
        self.width = width
        c = self.control.signature.members
        super().__init__({
            "i": In(packet_signature(width)), "o": Out(packet_signature(width)),
            "icmp_o": Out(packet_signature(width)), "too_big_passed": Out(1),
            **{name: c[name] for name in ("table", "lookup", "policy", "counts", "events", "counter_request",
                                          "counter_response")},
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.intake = intake = self.intake
        m.submodules.control = control = self.control
        m.submodules.encap = encap = self.encap
        wiring.connect(m, wiring.flipped(self.i), intake.i)
        wiring.connect(m, intake.parsed, control.parsed)
        wiring.connect(m, control.job, intake.job)
        wiring.connect(m, intake.frame, encap.frame)
        wiring.connect(m, intake.job_o, encap.job)
        wiring.connect(m, encap.o, wiring.flipped(self.o))
        m.submodules.icmp = icmp = self.icmp  # taps what passes from the intake to the encapsulator
        m.d.comb += [icmp.job.eq(intake.job_o.payload), icmp.job_taken.eq(intake.job_o.valid & intake.job_o.ready),
                     icmp.beat.eq(intake.frame.payload), icmp.beat_taken.eq(intake.frame.valid & intake.frame.ready)]
        wiring.connect(m, icmp.o, wiring.flipped(self.icmp_o))
        m.d.comb += self.too_big_passed.eq(icmp.passed)
        for name in ("policy", "counter_request"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(control, name))
        for name in ("table", "lookup", "events", "counter_response"):
            wiring.connect(m, getattr(control, name), wiring.flipped(getattr(self, name)))
        m.d.comb += [self.counts.eq(control.counts), self.counts.drop_desync.eq(intake.desync),
                     *[getattr(self.counts, n).eq(getattr(icmp.counts, n)) for n in icmp.counts.shape().members]]
        return m
