"""ESP encapsulation of stored frames (RFC 4303 §3.1-3.3, AES-GCM per RFC 4106, RFC 3948 UDP).

One job per stored frame, from `OutboundControl`: drop it, forward it unchanged, or protect
it. A protected frame leaves as

    frame[:start] ‖ outer IPv4 (tunnel) ‖ UDP (NAT-T) ‖ SPI ‖ seq ‖ IV
                  ‖ E(payload ‖ pad ‖ pad length ‖ next header) ‖ ICV

where `start` ends the Ethernet header (tunnel) or the original IPv4 header (transport; its
length, protocol and checksum are rewritten afterwards by `HeaderPatch`).

Two sequencers share the work, so the GCM engine streams without waiting for headers:
the *reader* walks the stored frame: the bytes before the payload go to the head queue, the
payload and the trailer to the GCM engine; the *writer* assembles the output from the head
queue, the job's header bytes, and the engine's cipher text and ICV.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..crypto.gcm import GCM
from ..packet import packet_signature
from ..repack import Repack, fragment_layout
from .outbound_control import DROP, ENCAP, job_layout


def swap_bytes(value, n: int = 16):
    """Little-lane bytes <-> a big-endian number (the GCM engine's blocks, first byte on top)."""
    return Cat(*[value[8 * i : 8 * (i + 1)] for i in reversed(range(n))])


class Encapsulator(wiring.Component):
    def __init__(self, n_sa: int, *, width: int = 16, config: str = "wide"):
        if width != 16:
            raise ValueError(f"width: {width}; the GCM engine takes 16-byte blocks")
        self.width, self.config = width, config
        self.job_layout = job_layout(n_sa)
        super().__init__({
            "frame": In(packet_signature(width)),
            "job": In(stream.Signature(self.job_layout)),
            "o": Out(packet_signature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width
        frag = fragment_layout(w)
        head_entry = data.StructLayout({"frag": frag, "then_esp": 1})
        headers = data.StructLayout({"tunnel": 1, "natt": 1, "outer": 160, "udp": 64, "esp": 128})
        m.submodules.gcm = gcm = GCM(self.config)
        m.submodules.plain = plain = Repack(w)  # payload and trailer, dense, for the engine
        m.submodules.out = out = Repack(w)
        m.submodules.head = head = fifo.SyncFIFOBuffered(width=head_entry.size, depth=8)
        m.submodules.hdrs = hdrs = fifo.SyncFIFOBuffered(width=headers.size, depth=4)
        m.d.comb += [gcm.i.valid.eq(plain.o.valid), gcm.i.payload.eq(swap_bytes(plain.o.payload.data)),
                     plain.o.ready.eq(gcm.i.ready)]

        # -- reader ----------------------------------------------------------------------------
        job = Signal(self.job_layout)
        beat = self.frame.payload
        pos = Signal(16)  # frame offset of the current beat
        prefix_done = Signal()  # this beat's bytes before the payload are in the head queue
        cmd_pending = Signal()  # the engine has not yet taken this packet's command
        m.d.comb += [gcm.cmd.valid.eq(cmd_pending),
                     gcm.cmd.payload.key.eq(job.gcm_key), gcm.cmd.payload.aes256.eq(job.aes256),
                     gcm.cmd.payload.decrypt.eq(0), gcm.cmd.payload.iv.eq(job.gcm_iv),
                     gcm.cmd.payload.aad.eq(job.gcm_aad), gcm.cmd.payload.aad_len.eq(job.gcm_aad_len),
                     gcm.cmd.payload.length.eq(job.gcm_length), gcm.cmd.payload.icv_len.eq(job.icv_len)]
        with m.If(gcm.cmd.valid & gcm.cmd.ready):
            m.d.sync += cmd_pending.eq(0)

        def clamp(x):
            return Mux(x[-1], 0, Mux(x > w, w, x))  # x: a signed offset into this beat

        before = Signal(range(w + 1))  # bytes of this beat ahead of the payload
        upto = Signal(range(w + 1))  # bytes of this beat up to the payload's end
        m.d.comb += [before.eq(clamp((job.payload_start - pos).as_signed())),
                     upto.eq(clamp((job.payload_end - pos).as_signed()))]
        before = Mux(before > beat.nbytes, beat.nbytes, before)
        upto = Mux(upto > beat.nbytes, beat.nbytes, upto)
        hw = data.View(head_entry, head.w_data)
        pw = plain.i.payload
        m.d.comb += [hw.frag.data.eq(beat.data), pw.data.eq(beat.data)]
        trailer = Signal(8 * 5)  # RFC 4303 §2.4: pad bytes 1, 2, ... then pad length, next header
        with m.Switch(job.pad):
            for pad in range(4):
                with m.Case(pad):
                    m.d.comb += trailer.eq(Cat(*[Const(i + 1, 8) for i in range(pad)], Const(pad, 8),
                                               job.next_header))
        take = Signal()
        with m.If(take):
            m.d.sync += [pos.eq(pos + w), prefix_done.eq(0)]
        with m.FSM(name="reader"):
            with m.State("JOB"):
                m.d.comb += self.job.ready.eq(~cmd_pending & hdrs.w_rdy)
                with m.If(self.job.valid & self.job.ready):
                    m.d.sync += [job.eq(self.job.payload), pos.eq(0), prefix_done.eq(0)]
                    with m.Switch(self.job.payload.action):
                        with m.Case(DROP):
                            m.next = "DROP"
                        with m.Case(ENCAP):
                            hj = data.View(headers, hdrs.w_data)
                            p = self.job.payload
                            m.d.comb += [hdrs.w_en.eq(1), hj.tunnel.eq(p.tunnel), hj.natt.eq(p.natt),
                                         hj.outer.eq(p.outer), hj.udp.eq(p.udp), hj.esp.eq(p.esp)]
                            m.d.sync += cmd_pending.eq(1)
                            m.next = "ENCAP"
                        with m.Default():
                            m.next = "FORWARD"
            with m.State("DROP"):
                m.d.comb += self.frame.ready.eq(1)
                with m.If(self.frame.valid & beat.last):
                    m.next = "JOB"
            with m.State("FORWARD"):
                m.d.comb += [head.w_en.eq(self.frame.valid), self.frame.ready.eq(head.w_rdy),
                             hw.frag.n.eq(beat.nbytes), hw.frag.last.eq(beat.last)]
                with m.If(self.frame.valid & head.w_rdy & beat.last):
                    m.next = "JOB"
            with m.State("ENCAP"):
                prefix = (before != 0) & ~prefix_done
                payload = upto > before
                with m.If(prefix):  # first the bytes ahead of the payload, to the head queue
                    m.d.comb += [head.w_en.eq(self.frame.valid), hw.frag.n.eq(before),
                                 hw.then_esp.eq(pos + w >= job.payload_start)]
                    with m.If(self.frame.valid & head.w_rdy):
                        with m.If(payload):
                            m.d.sync += prefix_done.eq(1)
                        with m.Else():
                            m.d.comb += [self.frame.ready.eq(1), take.eq(1)]
                with m.Elif(payload):  # then the payload bytes, to the engine
                    m.d.comb += [plain.i.valid.eq(self.frame.valid), pw.lo.eq(before), pw.n.eq(upto - before),
                                 self.frame.ready.eq(plain.i.ready), take.eq(self.frame.valid & plain.i.ready)]
                with m.Else():  # Ethernet padding after the IP packet
                    m.d.comb += [self.frame.ready.eq(1), take.eq(self.frame.valid)]
                with m.If(take & beat.last):
                    m.next = "TRAILER"
            with m.State("TRAILER"):
                m.d.comb += [plain.i.valid.eq(1), pw.data.eq(trailer), pw.lo.eq(0), pw.n.eq(job.pad + 2),
                             pw.last.eq(1)]
                with m.If(plain.i.ready):
                    m.next = "JOB"

        # -- writer ----------------------------------------------------------------------------
        hr = data.View(head_entry, head.r_data)
        hj = data.View(headers, hdrs.r_data)
        oi = out.i.payload
        ob = gcm.o.payload
        with m.FSM(name="writer"):
            with m.State("HEAD"):
                m.d.comb += [out.i.valid.eq(head.r_rdy), oi.eq(hr.frag), head.r_en.eq(out.i.ready)]
                with m.If(head.r_rdy & out.i.ready & hr.then_esp):
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
                    m.d.comb += hdrs.r_en.eq(1)
                    m.next = "HEAD"
        wiring.connect(m, out.o, wiring.flipped(self.o))
        return m
