"""ESP encapsulation of stored frames (RFC 4303 §3.1-3.3, AES-GCM per RFC 4106, RFC 3948 UDP).

One job per stored frame, from `OutboundControl`: drop it, forward it unchanged, or protect
it. A protected frame leaves as

    frame[:start] ‖ outer IPv4 (tunnel) ‖ UDP (NAT-T) ‖ SPI ‖ seq ‖ IV
                  ‖ E(payload ‖ pad ‖ pad length ‖ next header) ‖ ICV

where `start` ends the Ethernet header (tunnel) or the original IPv4 header (transport; its
length, protocol and checksum are rewritten afterwards by `HeaderPatch`).

Two sequencers share the work, so the GCM engine streams without waiting for headers:
the *reader* walks the stored frame: the bytes before the payload go to the head queue, the
payload and the trailer to the GCM engine (its splitter's handshakes end at registers on both
sides: `splitter.connect_buffered`); the *writer* assembles the output from the head queue, the
job's header bytes, and the engine's cipher text and ICV.
"""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..crypto.gcm import GCM
from ..packet import packet_signature
from ..plumbing import Queue
from ..repack import Repack, widened
from .header_patch import HeaderPatch, PatchLayout
from .outbound_control import DROP, ENCAP, job_layout
from .splitter import Splitter, connect_buffered


def swap_bytes(value, n: int = 16):
    """Little-lane bytes <-> a big-endian number (the GCM engine's blocks, first byte on top)."""
    return Cat(*[value[8 * i : 8 * (i + 1)] for i in reversed(range(n))])


class Encapsulator(wiring.Component):
    def __init__(self, n_sa: int, *, width: int = 16, config: str = "wide", ghash_digit: int = 16):
        self.width, self.config, self.ghash_digit = width, config, ghash_digit
        self.job_layout = job_layout(n_sa)
        super().__init__({
            "frame": In(packet_signature(width)),
            "job": In(stream.Signature(self.job_layout)),
            "o": Out(packet_signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width
        headers = data.StructLayout({"tunnel": 1, "natt": 1, "outer": 160, "udp": 64, "esp": 128})
        m.submodules.gcm = gcm = GCM(self.config, digit=self.ghash_digit)
        m.submodules.plain = plain = Repack(16, w)  # payload and trailer, dense 16-byte blocks for the engine
        m.submodules.out = out = Repack(w, 16)  # heads, headers, cipher text and ICV, onto the bus
        # headers of the frames between reader and writer: the wide engine's ~47-cycle latency holds
        # 8 minimum-size frames (4 suffice for compact; 4 cost wide 64-byte encap 0.644 -> 0.577 of the bus)
        m.submodules.hdrs = hdrs = fifo.SyncFIFOBuffered(width=headers.size, depth=8)
        m.d.comb += [gcm.i.valid.eq(plain.o.valid), gcm.i.payload.eq(swap_bytes(plain.o.payload.data)),
                     plain.o.ready.eq(gcm.i.ready)]


        # -- reader: the splitter walks the frame; the engine gets the command ---------------------
        m.submodules.splitter = splitter = Splitter(w)
        m.submodules.patches = patches = fifo.SyncFIFOBuffered(width=PatchLayout.size, depth=8)
        m.submodules.patch = patch = HeaderPatch(w)
        connect_buffered(m, splitter, wiring.flipped(self.frame), plain.i)
        j = self.job.payload
        cmd = Signal.like(gcm.cmd.payload)
        cmd_pending = Signal()  # the engine has not yet taken the last packet's command
        m.d.comb += [gcm.cmd.valid.eq(cmd_pending), gcm.cmd.payload.eq(cmd)]
        with m.If(gcm.cmd.valid & gcm.cmd.ready):
            m.d.sync += cmd_pending.eq(0)

        encap, drop = j.action == ENCAP, j.action == DROP
        sj, hj, pj = splitter.job.payload, data.View(headers, hdrs.w_data), data.View(PatchLayout, patches.w_data)
        trailer = Signal(8 * 5)  # RFC 4303 §2.4: pad bytes 1, 2, ... then pad length, next header
        with m.Switch(j.pad):
            for pad in range(4):
                with m.Case(pad):
                    m.d.comb += trailer.eq(Cat(*[Const(i + 1, 8) for i in range(pad)], Const(pad, 8), j.next_header))
        m.d.comb += [
            sj.action.eq(j.action),  # the splitter's FORWARD, DROP, SPLIT
            sj.a.eq(j.payload_start), sj.b.eq(j.payload_start), sj.c.eq(j.payload_end), sj.d.eq(j.payload_end),
            sj.extra.eq(trailer), sj.extra_n.eq(j.pad + 2),
            hj.tunnel.eq(j.tunnel), hj.natt.eq(j.natt), hj.outer.eq(j.outer), hj.udp.eq(j.udp), hj.esp.eq(j.esp),
            pj.enable.eq(encap & ~j.tunnel), pj.l2_len.eq(j.l2_len), pj.total_length.eq(j.ip_length),
            pj.proto.eq(j.ip_proto),
        ]
        room = ~cmd_pending & hdrs.w_rdy & patches.w_rdy
        m.d.comb += [splitter.job.valid.eq(self.job.valid & room), self.job.ready.eq(splitter.job.ready & room)]
        with m.If(self.job.valid & self.job.ready):
            m.d.comb += [hdrs.w_en.eq(encap), patches.w_en.eq(~drop)]
            with m.If(encap):
                m.d.sync += [cmd_pending.eq(1), cmd.eq(j.gcm)]

        # -- writer ----------------------------------------------------------------------------
        m.submodules.heads = heads = Queue(splitter.head.payload.shape(), 8)  # the splitter runs a frame ahead
        wiring.connect(m, splitter.head, heads.i)
        head = heads.o
        hr = head.payload
        hj = data.View(headers, hdrs.r_data)
        oi = out.i.payload
        # a frame's headers leave their queue the cycle after its last beat (the read enable, which
        # reaches every bit of the queue's output, from a flip-flop): the next frame's head takes that
        # cycle at least, and its headers are read from OUTER_0 on
        popped = Signal()
        m.d.sync += popped.eq(0)
        m.d.comb += hdrs.r_en.eq(popped)
        ob = gcm.o.payload
        with m.FSM(name="writer"):
            with m.State("HEAD"):
                m.d.comb += [out.i.valid.eq(head.valid), head.ready.eq(out.i.ready), *widened(hr.frag, oi)]
                with m.If(head.valid & out.i.ready & hr.then_body):
                    m.next = "OUTER_0"
            for name, lo, hi, present, after in (("OUTER_0", 0, 16, hj.tunnel, "OUTER_1"),
                                                 ("OUTER_1", 16, 20, hj.tunnel, "UDP"),
                                                 ("UDP", 0, 8, hj.natt, "ESP"),
                                                 ("ESP", 0, 16, Const(1), "CIPHER")):
                field = {"OUTER_0": hj.outer, "OUTER_1": hj.outer, "UDP": hj.udp, "ESP": hj.esp}[name]
                with m.State(name):
                    m.d.comb += [out.i.valid.eq(present), oi.data.eq(field[8 * lo : 8 * hi]), oi.n.eq(hi - lo)]
                    with m.If(out.i.ready | ~present):
                        m.next = after
            with m.State("CIPHER"):
                m.d.comb += [out.i.valid.eq(gcm.o.valid), gcm.o.ready.eq(out.i.ready),
                             oi.data.eq(swap_bytes(ob.data)), oi.n.eq(ob.nbytes), oi.last.eq(ob.last)]
                with m.If(gcm.o.valid & out.i.ready & ob.last):
                    m.d.sync += popped.eq(1)
                    m.next = "HEAD"
        wiring.connect(m, out.o, patch.i)
        m.d.comb += [patch.patch.valid.eq(patches.r_rdy), patch.patch.payload.eq(patches.r_data),
                     patches.r_en.eq(patch.patch.ready)]
        wiring.connect(m, patch.o, wiring.flipped(self.o))
        return m
