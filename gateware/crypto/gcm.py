"""AES-GCM engine for ESP (NIST SP 800-38D §7, RFC 4106), wide or compact.

Ports (details and timing in docs/gcm.md)::

    cmd: In(stream.Signature(GCMCommand))   one per packet, held until the packet is issued
    i:   In(stream.Signature(128))          ceil(length/16) payload beats (+ 1 ICV beat if decrypt)
    o:   Out(stream.Signature(GCMBeat))     the output beats, then one tag beat (last=1)

Per packet the engine runs ``2 + ceil(length/16)`` blocks through one AES core, in this
order, each block carrying the packet key (so keys change per packet with no bubble):

* ``H``  = AES_K(0^128)            (§6.4: the hash subkey, computed on chip per packet),
* ``E_K(inc32^i(J0))``, i ≥ 1      (§6.5 GCTR on the payload, J0 = IV ‖ 0^31 ‖ 1, §7.1 step 2),
* ``E_K(J0)``                      (§7.1 step 6: the tag mask), issued last.

Each AES result feeds exactly one GHASH block (§7.1 steps 4–5, S = GHASH_H(A ‖ C ‖ len)):
H's slot carries the AAD block (none if ``aad_len`` = 0), the counter slots carry C, and the
E_K(J0) slot carries ``len(A)_64 ‖ len(C)_64``. The tag is MSB_t(S ⊕ E_K(J0)) (§7.1 step 6),
``t`` = ``icv_len`` bytes (RFC 4106 §6: 8, 12 or 16); decrypting, the engine compares it with the
received ICV (§7.2 step 8) and sends their difference, MSB_t(S ⊕ E_K(J0) ⊕ ICV), in its place.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .aes_compact import AESCompact
from .aes_wide import AESWide

__all__ = ["GCM", "GCMBeat", "GCMCommand", "byte_enables", "widen"]

#: Per-packet context. Byte strings are big-endian integers (first byte most significant):
#: ``key`` = key bytes left-aligned in 256 bits (AES-128 key in the top 128 bits);
#: ``iv`` = the 12-byte IV, for ESP salt(4) ‖ explicit IV(8) (RFC 4106 §4);
#: ``aad`` = the AAD left-aligned in 128 bits, ``aad_len`` bytes (0..16; ESP: 8 or 12);
#: ``length`` = payload bytes (0..65535); ``icv_len`` = tag bytes (1..16; ESP: 8, 12, 16).
GCMCommand = data.StructLayout({
    "key": 256, "aes256": 1, "decrypt": 1, "iv": 96,
    "aad": 128, "aad_len": 5, "length": 16, "icv_len": 5,
})

#: Output beat: ``nbytes`` valid bytes left-aligned in ``data`` (the rest zero). ``last``
#: marks the tag beat that ends every packet; ``ok`` is 1 on it when decrypting and the
#: received ICV matched (always 1 when encrypting). The tag beat's ``data`` is the tag when
#: encrypting, the tag ⊕ the received ICV when decrypting (zero iff ``ok``).
GCMBeat = data.StructLayout({"data": 128, "nbytes": 5, "last": 1, "ok": 1})

_H, _CTR, _J0 = 0, 1, 2
#: The side-band of an AES block (``cipher_out``: a counter block of an encryption, whose output,
#: not its input, is the cipher text to hash).
_Slot = data.StructLayout({"kind": 2, "hashed": 1, "data": 128, "nbytes": 5, "enables": 16,
                           "decrypt": 1, "cipher_out": 1, "aad_len": 5, "length": 16})
#: Output FIFO entry: a data beat, or (``end``) the packet's tag context: E_K(J0), with the
#: received ICV XORed in when decrypting, on its ``nbytes`` = ``icv_len`` bytes (so S ⊕ ``data``
#: there is the tag, or its difference from the ICV).
_DEntry = data.StructLayout({"data": 128, "nbytes": 5, "end": 1, "decrypt": 1})


def byte_enables(nbytes):
    """16 bits, bit j set iff byte j (counted from the least significant) is one of the first
    ``nbytes`` bytes (the most significant ones)."""
    return Cat(*[nbytes > 15 - j for j in range(16)])


def widen(enables):
    """The 128-bit mask of a 16-bit byte mask (each bit repeated over its byte)."""
    return Cat(*[e.replicate(8) for e in enables])


class GCM(wiring.Component):
    """AES-GCM-128/256 encrypt/decrypt engine, per-packet key, on-chip H.

    ``config="wide"``: :class:`.aes_wide.AESWide` + wide GHASH, 1 block/cycle, 2 issue slots of
    overhead per packet. ``config="compact"``: :class:`.aes_compact.AESCompact` + compact
    GHASH, Nr cycles per block. ``sbox``: S-box mapping (see :mod:`.sbox`). ``digit``: the
    compact GHASH's digit (bits of a block multiplied a cycle, :class:`.ghash.GHASH`): 16 keeps
    AES-128's 10 cycles a block, 11 (13 cycles a block) only AES-256's 14. ``ghash``: GHASH
    component factory (tests only; default the project's :class:`.ghash.GHASH`).
    """

    def __init__(self, config="wide", *, sbox="bram", fifo_depth=None, digit=16, ghash=None):
        if config not in ("wide", "compact"):
            raise ValueError(f"config must be 'wide' or 'compact', not {config!r}")
        self.config = config
        self._sbox = sbox
        # compact: a block at most every Nr >= 10 cycles and a packet every 2 Nr or more, so one
        # place (a register: an output beat, or the tag context waiting for S)
        self._fifo_depth = fifo_depth or (32 if config == "wide" else 1)
        self._digit = digit
        self._ghash = ghash
        super().__init__({
            "cmd": In(stream.Signature(GCMCommand)),
            "i": In(stream.Signature(128)),
            "o": Out(stream.Signature(GCMBeat)),
        })

    def elaborate(self, platform):
        m = Module()
        if self._ghash is None:
            from .ghash import GHASH
            ghash = GHASH(config=self.config, digit=self._digit)
        else:
            ghash = self._ghash(self.config)
        core = (AESWide if self.config == "wide" else AESCompact)(user=_Slot, sbox=self._sbox)
        m.submodules.aes = aes = core
        m.submodules.ghash = ghash
        m.submodules.dfifo = dfifo = fifo.SyncFIFOBuffered(width=_DEntry.size, depth=self._fifo_depth)

        # --- Issue: one AES slot per cycle from the command and the input beats. ----------
        cmd = self.cmd.payload
        busy = Signal()              # H issued, packet in progress
        remaining = Signal(16)       # payload bytes not yet issued
        # remaining != 0 and min(remaining, 16), kept in registers so that the issue
        # multiplexers are selected straight from flip-flops
        left, beat_bytes = Signal(), Signal(5)
        ctr = Signal(32)             # counter word of the next payload block

        def count_down(rest, more, beat):
            """`remaining` := rest, with its flags more = (rest != 0), beat = min(rest, 16)."""
            return [remaining.eq(rest), left.eq(more), beat_bytes.eq(beat)]
        ai = aes.i.payload
        slot = ai.user
        m.d.comb += [
            ai.key.eq(cmd.key), ai.aes256.eq(cmd.aes256),
            slot.decrypt.eq(cmd.decrypt), slot.aad_len.eq(cmd.aad_len), slot.length.eq(cmd.length),
            slot.hashed.eq(busy | (cmd.aad_len != 0)),   # H's slot has a GHASH block iff there is AAD
            slot.enables.eq(byte_enables(slot.nbytes)),  # the byte mask, made before the AES wait
        ]
        with m.If(~busy):
            m.d.comb += [
                aes.i.valid.eq(self.cmd.valid),
                ai.block.eq(0),
                slot.kind.eq(_H), slot.data.eq(cmd.aad), slot.nbytes.eq(cmd.aad_len),
            ]
            with m.If(aes.i.valid & aes.i.ready):
                m.d.sync += [busy.eq(1), ctr.eq(2),
                             *count_down(cmd.length, cmd.length != 0, Mux(cmd.length > 16, 16, cmd.length))]
        with m.Elif(left):
            m.d.comb += [
                aes.i.valid.eq(self.i.valid), self.i.ready.eq(aes.i.ready),
                ai.block.eq(Cat(ctr, cmd.iv)),
                slot.kind.eq(_CTR), slot.data.eq(self.i.payload),
                slot.nbytes.eq(beat_bytes), slot.cipher_out.eq(~cmd.decrypt),
            ]
            with m.If(aes.i.valid & aes.i.ready):
                # the flags of the next beat from `remaining` directly, in parallel with the subtraction
                m.d.sync += [ctr.eq(ctr + 1), *count_down(Mux(remaining > 16, remaining - 16, 0), remaining > 16,
                                                          Mux(remaining > 32, 16, remaining - 16))]
        with m.Else():
            m.d.comb += [
                aes.i.valid.eq(self.cmd.valid & (~cmd.decrypt | self.i.valid)),
                self.i.ready.eq(cmd.decrypt & aes.i.ready),
                self.cmd.ready.eq(aes.i.ready & aes.i.valid),
                ai.block.eq(Cat(Const(1, 32), cmd.iv)),
                slot.kind.eq(_J0), slot.data.eq(Mux(cmd.decrypt, self.i.payload, 0)),
                slot.nbytes.eq(cmd.icv_len),
            ]
            with m.If(aes.i.valid & aes.i.ready):
                m.d.sync += busy.eq(0)

        # --- Split: each AES result → one GHASH block and an output FIFO entry. -------------
        res = aes.o.payload
        u = res.user
        ks = res.block
        h = Signal(128)
        first_pending = Signal()
        # One LUT a bit each: the output (data ⊕ key stream on the slot's bytes; for E_K(J0) the
        # tag context) and the GHASH block (its bytes of data, or of the output when encrypting:
        # C either way); E_K(J0)'s GHASH block is len(A)_64 ‖ len(C)_64 instead.
        is_j0 = u.kind == _J0
        out, hashed_bytes, g_block = Signal(128), Signal(16), Signal(128)
        lengths = Cat(Const(0, 3), u.length, Const(0, 45), Const(0, 3), u.aad_len, Const(0, 56))
        m.d.comb += [
            out.eq((u.data ^ ks) & widen(u.enables)),
            hashed_bytes.eq(u.enables & ~is_j0.replicate(16)),
            g_block.eq((u.data ^ (ks & u.cipher_out.replicate(128))) & widen(hashed_bytes)),
        ]
        need_g = u.hashed
        need_d = u.kind != _H
        g_ok = ~need_g | ghash.i.ready
        d_ok = ~need_d | dfifo.w_rdy
        gi = ghash.i.payload
        d_entry = _DEntry(dfifo.w_data)
        m.d.comb += [
            aes.o.ready.eq(g_ok & d_ok),
            ghash.i.valid.eq(aes.o.valid & need_g & d_ok),
            dfifo.w_en.eq(aes.o.valid & need_d & g_ok),
            gi.h.eq(Mux(u.kind == _H, ks, h)),
            gi.first.eq((u.kind == _H) | first_pending),
            gi.last.eq(is_j0),
            gi.block.eq(g_block | Mux(is_j0, lengths, 0)),
            d_entry.data.eq(out), d_entry.nbytes.eq(u.nbytes), d_entry.end.eq(is_j0),
            d_entry.decrypt.eq(u.decrypt),
        ]
        with m.If(aes.o.valid & (u.kind == _H)):
            # Whether taken now or not: results leave in order, so the packet before is done
            # with h, and the enable of these 128 flip-flops skips the handshake.
            m.d.sync += h.eq(ks)
        with m.If(aes.o.valid & aes.o.ready):
            m.d.sync += first_pending.eq((u.kind == _H) & (u.aad_len == 0))

        # --- Tag: T = MSB_t(S ⊕ E_K(J0)) (decrypt: T ⊕ ICV) and the ICV verdict, registered when
        # S meets its tag context at the head of the output FIFO. ------------------------------
        head = _DEntry(dfifo.r_data)
        tag_valid, tag_nbytes, tag = Signal(), Signal(5), Signal(128)
        # the ICV verdict in two halves: 16-byte groups that differ, registered; then ok (at the output)
        tag_differs, tag_decrypt = Signal(8), Signal()
        tag_taken = Signal()
        computed = Signal(128)
        m.d.comb += [
            # decrypt: ok iff S ⊕ E_K(J0) ⊕ ICV is zero on the ICV bytes: one LUT per bit, then OR trees
            computed.eq((ghash.o.payload ^ head.data) & widen(byte_enables(head.nbytes))),
            # loads when the tag context heads the FIFO and the tag register is empty: its enable
            # is flip-flops, not the output handshake
            ghash.o.ready.eq(~tag_valid & dfifo.r_rdy & head.end),
        ]
        with m.If(tag_taken):
            m.d.sync += tag_valid.eq(0)
        with m.If(ghash.o.valid & ghash.o.ready):
            m.d.sync += [tag_valid.eq(1), tag.eq(computed), tag_nbytes.eq(head.nbytes),
                         tag_decrypt.eq(head.decrypt),
                         tag_differs.eq(Cat(*(computed[16 * g:16 * g + 16].any() for g in range(8))))]

        # --- Output: data beats in order, then the tag beat. -------------------------------
        ob = self.o.payload
        with m.If(head.end):
            m.d.comb += [
                self.o.valid.eq(dfifo.r_rdy & tag_valid),
                ob.data.eq(tag), ob.nbytes.eq(tag_nbytes), ob.last.eq(1),
                ob.ok.eq(~tag_decrypt | (tag_differs == 0)),
                tag_taken.eq(self.o.valid & self.o.ready),
                dfifo.r_en.eq(tag_taken),
            ]
        with m.Else():
            m.d.comb += [
                self.o.valid.eq(dfifo.r_rdy),
                ob.data.eq(head.data), ob.nbytes.eq(head.nbytes),
                dfifo.r_en.eq(self.o.ready),
            ]
        return m
