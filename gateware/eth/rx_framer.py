"""Receive framing in the PHY's receive clock domain: GMII bytes in, the frame's data (without
preamble, SFD and FCS) out as words for a `CommitFifo`, and one verdict per frame.

A frame is what follows the SFD while `rx_dv` is high (IEEE 802.3 clause 35.2.2, 3.2);
any number of preamble octets (0x55) may precede the SFD (0xD5). Each frame gets one
`outcome` (`done` pulses once, as the frame ends), the first that applies of:
ERROR (`rx_er` during the frame, or a carrier that is not preamble-SFD-frame), RUNT (fewer than
64 bytes with FCS: minFrameSize, clause 4.4.2), OVERSIZE (more than `max_frame` bytes with FCS;
maxUntaggedFrameSize there is 1518), BAD_FCS (the CRC-32 of clause 3.2.9 does not check),
OVERFLOW (the FIFO ran out of space while the frame was written), GOOD. A GOOD frame is
committed, any other discarded whole (docs/ethernet.md).
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import crc, enum, stream, wiring
from amaranth.lib.wiring import In, Out

from .commit_fifo import frame_word_layout
from .gmii import PREAMBLE, SFD

FCS_BYTES, MIN_FRAME = 4, 64


class RxOutcome(enum.Enum, shape=3):
    GOOD = 0
    BAD_FCS = 1
    RUNT = 2
    OVERSIZE = 3
    OVERFLOW = 4
    ERROR = 5


class RxFramer(wiring.Component):
    def __init__(self, width: int, max_frame: int = 1518):
        self.width, self.max_frame = width, max_frame
        super().__init__({
            "rx_data": In(8), "rx_dv": In(1), "rx_er": In(1),
            "w": Out(stream.Signature(frame_word_layout(width))),
            "commit": Out(1), "discard": Out(1),
            "done": Out(1), "outcome": Out(RxOutcome),
        })

    def elaborate(self, platform):
        m = Module()
        width, max_frame = self.width, self.max_frame
        octet, dv, er = Signal(8), Signal(), Signal()  # the inputs, registered once
        m.d.sync += [octet.eq(self.rx_data), dv.eq(self.rx_dv), er.eq(self.rx_er)]
        m.submodules.fcs = fcs = crc.catalog.CRC32_ETHERNET(8).create()
        m.d.comb += fcs.data.eq(octet)

        length = Signal(range(max_frame + 2))  # bytes after the SFD, saturating at max_frame + 1
        held = Signal(8 * FCS_BYTES)  # the last four bytes, oldest lowest: the FCS if the frame ends
        # flags kept as bytes arrive, so that no comparison of `length` precedes a write or a verdict
        filled = Signal(FCS_BYTES)  # which of `held` are frame bytes: all once `length` >= 4
        runt = Signal()  # length < MIN_FRAME
        word, fill = Signal(8 * width), Signal(range(width + 1))  # the word being assembled
        errored, overflowed, too_long = Signal(), Signal(), Signal()  # too_long: length > max_frame
        writing = ~overflowed & ~too_long
        m.d.comb += self.w.payload.data.eq(word)
        with m.If(self.w.valid & ~self.w.ready):
            m.d.sync += overflowed.eq(1)

        # the verdict is taken as the frame ends and acted on the cycle after (commit or discard,
        # `done`), when no byte can be written yet: short paths from the CRC to the FIFO
        verdict, deciding = Signal(RxOutcome), Signal()
        m.d.sync += deciding.eq(0)
        with m.If(deciding):
            m.d.comb += [self.done.eq(1), self.outcome.eq(verdict),
                         self.commit.eq(verdict == RxOutcome.GOOD), self.discard.eq(verdict != RxOutcome.GOOD)]

        def end(outcome):
            m.d.sync += [verdict.eq(outcome), deciding.eq(1)]
            m.next = "IDLE"

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += fcs.start.eq(1)
                m.d.sync += [length.eq(0), fill.eq(0), errored.eq(er), overflowed.eq(0), too_long.eq(0),
                             filled.eq(0), runt.eq(1)]
                with m.If(dv):
                    with m.If(octet == SFD):
                        m.next = "DATA"
                    with m.Elif(octet == PREAMBLE):
                        m.next = "PREAMBLE"
                    with m.Else():
                        m.next = "JUNK"
            with m.State("PREAMBLE"):
                m.d.sync += errored.eq(errored | er)
                with m.If(~dv):
                    end(RxOutcome.ERROR)
                with m.Elif(octet == SFD):
                    m.next = "DATA"
                with m.Elif(octet != PREAMBLE):
                    m.next = "JUNK"
            with m.State("JUNK"):  # a carrier that is not a frame: wait for its end
                with m.If(~dv):
                    end(RxOutcome.ERROR)
            with m.State("DATA"):
                with m.If(dv):
                    m.d.comb += fcs.valid.eq(1)
                    m.d.sync += [
                        length.eq(Mux(too_long, length, length + 1)),
                        too_long.eq(length >= max_frame),
                        held.eq(Cat(held[8:], octet)),
                        filled.eq(Cat(filled[1:], 1)),
                        errored.eq(errored | er),
                    ]
                    with m.If(length == MIN_FRAME - 1):
                        m.d.sync += runt.eq(0)
                    with m.If(filled[0]):  # the oldest held byte is frame data
                        with m.If(fill == width):
                            m.d.comb += [self.w.valid.eq(writing), self.w.payload.nbytes.eq(width)]
                            m.d.sync += [word.eq(held[:8]), fill.eq(1)]
                        with m.Else():
                            m.d.sync += [word.word_select(fill, 8).eq(held[:8]), fill.eq(fill + 1)]
                with m.Else():  # the frame has ended: its last word, and the verdict
                    m.d.comb += [self.w.valid.eq(writing & (fill != 0)), self.w.payload.nbytes.eq(fill),
                                 self.w.payload.last.eq(1)]
                    with m.If(errored):
                        end(RxOutcome.ERROR)
                    with m.Elif(runt):
                        end(RxOutcome.RUNT)
                    with m.Elif(too_long):
                        end(RxOutcome.OVERSIZE)
                    with m.Elif(~fcs.match_detected):
                        end(RxOutcome.BAD_FCS)
                    with m.Elif(overflowed | (self.w.valid & ~self.w.ready)):
                        end(RxOutcome.OVERFLOW)
                    with m.Else():
                        end(RxOutcome.GOOD)
        return m
