"""The inbound direction (ciphertext side -> plaintext side and host): parse, store, classify,
decrypt into the packet buffer, commit or discard, restore the transport header.

Every frame, of any length, is stored (an empty or oversize one as a placeholder) and
classified; the intake hands the decapsulator a frame only with its own job (`intake.py`,
docs/invariants.md §6). Punted frames go to the host through a queue of their own that drops
(and counts) what it cannot hold, so a host that reads slowly never stalls the plaintext side
(docs/invariants.md §8).
"""

from amaranth.hdl import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..frame_queue import FrameQueue
from ..packet import beat_layout, packet_signature
from ..plumbing import Queue, Register
from .decapsulator import Decapsulator
from .header_patch import HeaderPatch, PatchLayout
from .inbound_control import InboundControl
from .intake import Intake
from .packet_buffer import PacketBuffer


class Inbound(wiring.Component):
    def __init__(self, sa: data.StructLayout, counters: data.StructLayout, event: data.StructLayout,
                 thresholds: data.StructLayout, n_sa: int, n_policy: int, *, window: int, config: str = "wide",
                 ghash_digit: int = 16,
                 width: int = 16, store_words: int = 1024, max_frame: int = 9216, host_queue: int = 4096,
                 **options):
        self.control = InboundControl(sa, counters, event, thresholds, n_sa, n_policy, window=window, **options)
        self.intake = Intake(self.control.job.payload.shape(), width, store_words=store_words, max_frame=max_frame)
        self.decap = Decapsulator(width=width, config=config, ghash_digit=ghash_digit)
        self.width, self.store_words = width, store_words
        self.host_queue = host_queue  # bytes
        c = self.control.signature.members
        super().__init__({
            "i": In(packet_signature(width)), "o": Out(packet_signature(width)),
            "host": Out(packet_signature(width)),
            **{name: c[name] for name in ("table", "lookup", "policy", "admit_lookup", "admit", "counts",
                                          "events", "counter_request", "counter_response", "thresholds")},
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.intake = intake = self.intake
        m.submodules.control = control = self.control
        m.submodules.decap = decap = self.decap
        m.submodules.verified = verified = PacketBuffer(self.width, depth=self.store_words, meta=PatchLayout)
        m.submodules.patch = patch = HeaderPatch(self.width)
        wiring.connect(m, wiring.flipped(self.i), intake.i)
        wiring.connect(m, intake.parsed, control.parsed)
        m.submodules.jobs = jobs = Queue(control.job.payload.shape(), 2)  # classify runs a frame ahead
        wiring.connect(m, control.job, jobs.i)
        wiring.connect(m, jobs.o, intake.job)
        wiring.connect(m, intake.frame, decap.frame)
        wiring.connect(m, intake.job_o, decap.job)
        wiring.connect(m, decap.icv, control.icv)
        wiring.connect(m, decap.trailer, control.trailer)
        # the packet buffer's `ready` (its write pointer against the frames it holds) goes no
        # further than this queue's registers, not into the decapsulator's pipeline enables (a beat
        # every other cycle, `plumbing.Queue`: half the bus, above what the decapsulator gives)
        m.submodules.to_verified = to_verified = Queue(beat_layout(self.width), 2)
        wiring.connect(m, decap.o, to_verified.i)
        wiring.connect(m, to_verified.o, verified.i)
        # the commit's kept length and patch record registered before the buffer's own
        # arithmetic on them (its kept length against the bytes written): a cycle more a commit
        m.submodules.to_commit = to_commit = Register(control.commit.payload.shape())
        wiring.connect(m, control.commit, to_commit.i)
        wiring.connect(m, to_commit.o, verified.commit)
        # the store's block RAM output and its frame's patch record registered before the patch's arithmetic
        m.submodules.stored = stored = Register(data.StructLayout({"beat": beat_layout(self.width),
                                                                   "patch": PatchLayout}))
        m.d.comb += [stored.i.valid.eq(verified.o.valid), verified.o.ready.eq(stored.i.ready),
                     stored.i.payload.beat.eq(verified.o.payload), stored.i.payload.patch.eq(verified.meta),
                     patch.i.valid.eq(stored.o.valid), stored.o.ready.eq(patch.i.ready),
                     patch.i.payload.eq(stored.o.payload.beat),
                     patch.patch.valid.eq(stored.o.valid), patch.patch.payload.eq(stored.o.payload.patch)]
        wiring.connect(m, patch.o, wiring.flipped(self.o))
        m.submodules.host_queue = host_queue = FrameQueue(self.width, depth=self.host_queue // self.width)
        wiring.connect(m, decap.host, host_queue.i)
        wiring.connect(m, host_queue.o, wiring.flipped(self.host))
        for name in ("policy", "admit", "counter_request"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(control, name))
        for name in ("table", "lookup", "admit_lookup", "events", "counter_response"):
            wiring.connect(m, getattr(control, name), wiring.flipped(getattr(self, name)))
        m.d.comb += [self.counts.eq(control.counts), self.counts.drop_desync.eq(intake.desync),
                     self.counts.punt_dropped.eq(host_queue.dropped),
                     control.thresholds.eq(self.thresholds)]
        return m
