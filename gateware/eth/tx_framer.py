"""Transmit framing: whole frames from the transmit `CommitFifo` out on GMII (IEEE 802.3 clause
35.2.2) as preamble (7 x 0x55) and SFD (0xD5) (clause 3.2.1, 3.2.2), the data padded with zeros
to 60 bytes (clause 3.2.8, 4.2.3.3), the CRC-32 FCS (clause 3.2.9, least significant byte first)
and at least 12 idle byte times before the next frame (the interpacket gap, clause 4.2.3.2.1,
4.4.2: 96 bit times). Back to back, frames are exactly 12 idle bytes apart.

Frames are in the FIFO only once whole (`TxIntake`), and the FIFO delivers a word every cycle,
so a frame never underruns. A stored word without a byte ends the frame (`TxIntake` stores
only a last one). Outputs are registered.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import crc, stream, wiring
from amaranth.lib.wiring import In, Out

from .commit_fifo import frame_word_layout
from .gmii import PREAMBLE, SFD

PREAMBLE_BYTES, MIN_DATA, FCS_BYTES, GAP_BYTES = 7, 60, 4, 12


class TxFramer(wiring.Component):
    def __init__(self, width: int):
        self.width = width
        super().__init__({
            "r": In(stream.Signature(frame_word_layout(width))),
            "tx_data": Out(8), "tx_en": Out(1), "tx_er": Out(1),
            "sent": Out(1),  # pulses once per frame sent
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fcs = fcs = crc.catalog.CRC32_ETHERNET(8).create()
        word, left, word_last = Signal(8 * self.width), Signal(range(self.width + 1)), Signal()
        count = Signal(range(MIN_DATA + 1))  # data and pad bytes sent, saturating at MIN_DATA
        step = Signal(range(GAP_BYTES))  # the byte within the preamble, FCS or gap

        def load():
            m.d.comb += self.r.ready.eq(1)
            m.d.sync += [word.eq(self.r.payload.data), left.eq(self.r.payload.nbytes),
                         word_last.eq(self.r.payload.last)]

        def after_data(sent):
            m.d.sync += step.eq(0)
            with m.If(sent < MIN_DATA):
                m.next = "PAD"
            with m.Else():
                m.next = "FCS"

        m.d.sync += self.tx_en.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.r.valid):
                    load()
                    m.d.comb += fcs.start.eq(1)
                    m.d.sync += [step.eq(0), count.eq(0)]
                    m.next = "PREAMBLE"
            with m.State("PREAMBLE"):
                m.d.sync += [self.tx_data.eq(PREAMBLE), self.tx_en.eq(1), step.eq(step + 1)]
                with m.If(step == PREAMBLE_BYTES - 1):
                    m.next = "SFD"
            with m.State("SFD"):
                m.d.sync += [self.tx_data.eq(SFD), self.tx_en.eq(1)]
                m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [fcs.valid.eq(1), fcs.data.eq(word[:8])]
                m.d.sync += [self.tx_data.eq(word[:8]), self.tx_en.eq(1),
                             count.eq(count + (count != MIN_DATA))]
                with m.If(left > 1):
                    m.d.sync += [word.eq(word >> 8), left.eq(left - 1)]
                with m.Elif(word_last):
                    after_data(count + 1)
                with m.Else():
                    load()
                    with m.If(self.r.payload.nbytes == 0):
                        after_data(count + 1)
            with m.State("PAD"):
                m.d.comb += [fcs.valid.eq(1), fcs.data.eq(0)]
                m.d.sync += [self.tx_data.eq(0), self.tx_en.eq(1), count.eq(count + 1)]
                with m.If(count == MIN_DATA - 1):
                    m.next = "FCS"
            with m.State("FCS"):
                m.d.sync += [self.tx_data.eq(fcs.crc.word_select(step, 8)), self.tx_en.eq(1), step.eq(step + 1)]
                with m.If(step == FCS_BYTES - 1):
                    m.d.comb += self.sent.eq(1)
                    m.d.sync += step.eq(0)
                    m.next = "GAP"
            with m.State("GAP"):  # GAP_BYTES - 1 cycles here and one in IDLE: tx_en low 12 cycles
                m.d.sync += step.eq(step + 1)
                with m.If(step == GAP_BYTES - 2):
                    m.next = "IDLE"
        return m
