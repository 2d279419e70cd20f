"""Inbound decisions: classify (`inbound_classify.py`) runs ahead and decrypts, commit
(`inbound_commit.py`) decides each frame in frame order; between them a queue of verdicts,
up to `in_flight` frames. Here lives the dynamic state of inbound SAs (replay window,
counters, lifetime flags), read by both and written by commit; a new SA's window starts at its
replay-seq (docs/config.md), every number up to it taken as received.

The SA table changes only while no frame is in flight (`quiet`): classify takes no new frame
while a change is pending (`hold`), and commit finishes those already classified, so a frame
sees one version of its SA from classify to commit.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.memory import Memory, WritePort
from amaranth.lib.wiring import In, Out

from espline.regmap.enums import Dir

from .counts import Counts
from .decapsulator import DecapJob
from .header_patch import PatchLayout
from .inbound_classify import InboundClassify, counter
from .inbound_commit import InboundCommit
from .packet_buffer import commit_layout
from .policy_table import key_layout, result_layout
from .replay import started_at, state_layout
from .sa_fields import serve_snapshots
from .sa_table import client_signature, renew
from .trailer import TrailerLayout

# the SA table's read ports this direction uses, in the order they come first on a shared copy: commit
# before classify, as on the dynamic state's port (each needs both ports in one cycle; were either
# first on one and second on the other, both could wait for each other forever)
READS = ("commit", "classify")
EARLY = ("window", "dead")  # what classify reads of an SA's dynamic state


def sa_state_layout(window: int) -> data.StructLayout:
    """The dynamic state of an inbound SA: what its packets change."""
    return data.StructLayout({"window": state_layout(window), "packets": 64, "bytes": 64, "auth_fail": 32,
                              "replay": 32, "soft_expired": 1, "dead": 1})


class InboundControl(wiring.Component):
    def __init__(self, sa: data.StructLayout, counters: data.StructLayout, event: data.StructLayout,
                 thresholds: data.StructLayout, n_sa: int, n_policy: int, *, window: int,
                 default_policy: str = "discard", ipv6: str = "discard", in_flight: int = 8):
        self.n_sa, self.in_flight, self.window = n_sa, in_flight, window
        self.state = sa_state_layout(window)
        self.classify = InboundClassify(sa, self.state, n_sa, n_policy, window=window,
                                        default_policy=default_policy, ipv6=ipv6)
        self.decide = InboundCommit(sa, self.state, thresholds, event, n_sa, n_policy, window=window)
        policy = stream.Signature(result_layout(n_policy, n_sa))
        super().__init__({
            "parsed": In(self.classify.parsed.signature.flip()),
            "table": Out(client_signature(sa, n_sa, reads=READS, find=True)),
            "lookup": Out(stream.Signature(key_layout(n_sa))), "policy": In(policy),  # cleartext SPD
            "admit_lookup": Out(stream.Signature(key_layout(n_sa))), "admit": In(policy),  # selector check
            "job": Out(stream.Signature(DecapJob)),
            "icv": In(stream.Signature(data.StructLayout({"ok": 1}))),
            "trailer": In(stream.Signature(TrailerLayout)),
            "commit": Out(stream.Signature(commit_layout(PatchLayout))),
            "counts": Out(Counts),
            "events": Out(stream.Signature(event)),
            "counter_request": In(stream.Signature(range(n_sa))),
            "counter_response": Out(stream.Signature(counters)),
            "thresholds": In(thresholds),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.classify = classify = self.classify
        m.submodules.commit = decide = self.decide
        # the dynamic state in two memories: what classify reads (window, dead) in distributed RAM, the
        # rest (counters, soft flag: read only into registers, by commit and the snapshots) in block RAM
        parts = [data.StructLayout({name: self.state[name].shape for name, _ in self.state if (name in EARLY) == fast})
                 for fast in (True, False)]
        m.submodules.dynamic = fast = Memory(shape=parts[0], depth=self.n_sa, init=[])
        m.submodules.counted = slow = Memory(shape=parts[1], depth=self.n_sa, init=[], attrs={"ram_style": "block"})
        writes, reads = [fast.write_port(), slow.write_port()], [fast.read_port(), slow.read_port()]
        state_write = WritePort.Signature(addr_width=(self.n_sa - 1).bit_length(), shape=self.state).create()
        state_read = data.View(self.state, Signal(self.state.size))  # both parts, as one state
        for write, read, part in zip(writes, reads, parts, strict=True):
            m.d.comb += [write.addr.eq(state_write.addr), write.en.eq(state_write.en)]
            m.d.comb += [getattr(write.data, name).eq(getattr(state_write.data, name)) for name, _ in part]
            m.d.comb += [getattr(state_read, name).eq(getattr(read.data, name)) for name, _ in part]
        # one read port (of each part), in turn: commit (the frame it decides), classify (the frame it
        # reads ahead), counter snapshots; each asks for one cycle a frame
        m.d.comb += [decide.state.data.eq(state_read), classify.state.data.eq(state_read)]
        grants = serve_snapshots(m, self.counter_request, self.counter_response, reads[0],
                                 {**{n: getattr(state_read, n) for n in ("packets", "bytes", "auth_fail", "replay")},
                                  "seq": state_read.window.top},
                                 [(user.state.en, user.state.addr) for user in (decide, classify)])
        m.d.comb += [reads[1].addr.eq(reads[0].addr), decide.state.granted.eq(grants[0]),
                     classify.state.granted.eq(grants[1])]
        m.d.comb += [state_write.addr.eq(decide.state_write.addr), state_write.data.eq(decide.state_write.data),
                     state_write.en.eq(decide.state_write.en)]
        renew(m, self.table.renewed, state_write, Dir.IN, window=started_at(self.window, self.table.renewed.seq))

        wiring.connect(m, wiring.flipped(self.table.classify), classify.sa)
        wiring.connect(m, wiring.flipped(self.table.find), classify.find)
        wiring.connect(m, wiring.flipped(self.table.commit), decide.sa)

        m.submodules.verdicts = verdicts = fifo.SyncFIFOBuffered(width=classify.verdict.payload.shape().size,
                                                                 depth=self.in_flight)
        m.d.comb += [verdicts.w_en.eq(classify.verdict.valid), verdicts.w_data.eq(classify.verdict.payload),
                     classify.verdict.ready.eq(verdicts.w_rdy),
                     decide.verdict.valid.eq(verdicts.r_rdy), decide.verdict.payload.eq(verdicts.r_data),
                     verdicts.r_en.eq(decide.verdict.ready)]
        in_flight = Signal(range(self.in_flight + 2))  # frames classified and not yet committed
        taken, done = verdicts.w_en & verdicts.w_rdy, verdicts.r_en & verdicts.r_rdy
        m.d.sync += in_flight.eq(in_flight + taken - done)
        m.d.comb += [classify.hold.eq(self.table.hold), self.table.quiet.eq(classify.idle & (in_flight == 0))]

        wiring.connect(m, wiring.flipped(self.parsed), classify.parsed)
        wiring.connect(m, wiring.flipped(self.policy), classify.policy)
        wiring.connect(m, classify.lookup, wiring.flipped(self.lookup))
        wiring.connect(m, classify.job, wiring.flipped(self.job))
        for name in ("icv", "trailer", "admit"):
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(decide, name))
        for name in ("commit", "admit_lookup", "events"):
            wiring.connect(m, getattr(decide, name), wiring.flipped(getattr(self, name)))
        m.d.comb += [decide.thresholds.eq(self.thresholds),
                     self.counts.as_value().eq(decide.counted | (classify.received << counter("rx_cipher")))]
        return m
