"""ESP decapsulation of stored frames (RFC 4303 §3.4, AES-GCM per RFC 4106), into the packet
buffer that releases a frame only once its verdict is in (RFC 4303 §3.4.4; docs/invariants.md §1).

One job per stored frame, from `InboundControl`: drop it, forward it (to the plaintext side,
or - `tag` - punt it to the host), or decrypt it. A decrypted frame enters the buffer as

    frame[:a] ‖ payload ‖ padding ‖ pad length ‖ next header

(`a` ends the Ethernet header in tunnel mode, the outer IPv4 header in transport mode), while
`trailer` reports the plaintext's trailer and first bytes and `icv` whether the ICV matched;
the control's commit then keeps the right length, or nothing.

The splitter's handshakes end at registers on both sides (`splitter.connect_buffered`: a
three-beat queue in front, a register stage behind; a cycle more a frame and a cycle more its
first cipher text). The clear heads and the plaintext reach the output gearbox
through a two-entry queue, so its fill level does not reach the engine's and the heads queue's
enables (a cycle more; a fragment every other cycle, a 16-byte block or a head fragment of the
bus's width: as fast as the packet buffer's two-beat queue after it takes beats).
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..crypto.gcm import GCM, GCMCommand
from ..packet import FRAME_TAG, beat_layout, packet_signature
from ..plumbing import Queue
from ..repack import Repack, fragment_layout, widened
from .encapsulator import swap_bytes
from .splitter import SplitJob, Splitter, connect_buffered
from .trailer import EspTrailer

DecapJob = data.StructLayout({"tag": FRAME_TAG, "split": SplitJob, "decrypt": 1, "gcm": GCMCommand})


class Decapsulator(wiring.Component):
    def __init__(self, *, width: int = 16, config: str = "wide", ghash_digit: int = 16):
        self.width, self.config, self.ghash_digit = width, config, ghash_digit
        # on the engine's 16-byte blocks; two records (in flip-flops) keep up with frames of two blocks
        # or more, as every decrypted frame is (its clear header and at least the ESP trailer)
        self.trailer_monitor = EspTrailer(16, records=2)
        super().__init__({
            "frame": In(packet_signature(width)),
            "job": In(stream.Signature(DecapJob)),
            "o": Out(packet_signature(width)),  # into the packet buffer
            "host": Out(packet_signature(width)),
            "trailer": Out(stream.Signature(self.trailer_monitor.layout)),
            "icv": Out(stream.Signature(data.StructLayout({"ok": 1}))),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width
        m.submodules.gcm = gcm = GCM(self.config, digit=self.ghash_digit)
        m.submodules.splitter = splitter = Splitter(w)
        m.submodules.cipher = cipher = Repack(16, w)  # cipher text, then the ICV as a block of its own
        m.submodules.out = out = Repack(w, 16)  # clear heads and plaintext blocks, onto the bus
        m.submodules.to_out = to_out = Queue(fragment_layout(16), 2)
        wiring.connect(m, to_out.o, out.i)
        m.submodules.to_host = to_host = Repack(w)
        m.submodules.trailer = trailer = self.trailer_monitor
        m.submodules.verdicts = verdicts = fifo.SyncFIFOBuffered(width=1, depth=self.trailer_monitor.records)
        m.d.comb += [self.icv.valid.eq(verdicts.r_rdy), self.icv.payload.ok.eq(verdicts.r_data),
                     verdicts.r_en.eq(self.icv.ready)]
        connect_buffered(m, splitter, wiring.flipped(self.frame), cipher.i)
        m.d.comb += [gcm.i.valid.eq(cipher.o.valid), gcm.i.payload.eq(swap_bytes(cipher.o.payload.data)),
                     cipher.o.ready.eq(gcm.i.ready)]
        wiring.connect(m, out.o, wiring.flipped(self.o))
        wiring.connect(m, to_host.o, wiring.flipped(self.host))
        wiring.connect(m, trailer.trailer, wiring.flipped(self.trailer))

        # -- jobs: the splitter walks the frame; the engine gets the command ------------------
        cmd_pending = Signal()
        j = self.job.payload
        m.d.comb += [splitter.job.payload.eq(j.split), splitter.job.valid.eq(self.job.valid & ~cmd_pending),
                     self.job.ready.eq(splitter.job.ready & ~cmd_pending), gcm.cmd.valid.eq(cmd_pending)]
        with m.If(self.job.valid & self.job.ready & j.decrypt):
            m.d.sync += [cmd_pending.eq(1), gcm.cmd.payload.eq(j.gcm)]
        with m.If(gcm.cmd.valid & gcm.cmd.ready):
            m.d.sync += cmd_pending.eq(0)

        # -- writer: clear headers, then the plaintext, each beat held until the next shows
        # whether it was the last (the engine marks only its tag beat) ------------------------
        m.submodules.heads = heads = Queue(splitter.head.payload.shape(), 8)  # the splitter runs a frame ahead
        wiring.connect(m, splitter.head, heads.i)
        head, plain = heads.o.payload, gcm.o.payload
        held = Signal(beat_layout(16))
        holding = Signal()
        m.d.comb += [trailer.i.payload.eq(held), to_out.i.payload.data.eq(trailer.o.payload.data),
                     to_out.i.payload.n.eq(trailer.o.payload.nbytes), to_out.i.payload.last.eq(trailer.o.payload.last),
                     to_out.i.valid.eq(trailer.o.valid), trailer.o.ready.eq(to_out.i.ready)]
        with m.FSM():
            with m.State("HEAD"):
                with m.If(head.tag):
                    m.d.comb += [to_host.i.valid.eq(heads.o.valid), to_host.i.payload.eq(head.frag),
                                 heads.o.ready.eq(to_host.i.ready)]
                with m.Else():
                    m.d.comb += [to_out.i.valid.eq(heads.o.valid), heads.o.ready.eq(to_out.i.ready),
                                 *widened(head.frag, to_out.i.payload)]
                with m.If(heads.o.valid & heads.o.ready & head.then_body):
                    m.d.sync += holding.eq(0)
                    m.next = "PLAIN"
            with m.State("PLAIN"):
                with m.If(~plain.last):  # a plaintext beat: pass the held one on, hold this one
                    m.d.comb += [trailer.i.valid.eq(gcm.o.valid & holding),
                                 gcm.o.ready.eq(~holding | trailer.i.ready)]
                    with m.If(gcm.o.valid & gcm.o.ready):
                        m.d.sync += [holding.eq(1), held.data.eq(swap_bytes(plain.data)),
                                     held.nbytes.eq(plain.nbytes), held.first.eq(~holding)]
                with m.Else():  # the tag: the held beat was the last
                    m.d.comb += [trailer.i.valid.eq(gcm.o.valid & verdicts.w_rdy),
                                 trailer.i.payload.last.eq(1),
                                 verdicts.w_en.eq(gcm.o.valid & trailer.i.ready),
                                 verdicts.w_data.eq(plain.ok),
                                 gcm.o.ready.eq(trailer.i.ready & verdicts.w_rdy)]
                    with m.If(gcm.o.valid & gcm.o.ready):
                        m.next = "HEAD"
        return m
