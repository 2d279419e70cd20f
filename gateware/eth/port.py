"""One Ethernet port: a gigabit MAC between the packet bus (`espline.gateware.packet`, `sync`
domain) and a GMII-level PHY interface (`gmii.gmii_signature`), docs/ethernet.md.

Receive: `RxFramer` in the PHY's receive clock domain writes each frame into a `CommitFifo`
there, committed only if it is good; committed words cross to `sync` through an `AsyncFIFOBuffered`,
so a dropped frame leaves nothing behind. Each frame's outcome crosses through a small
`AsyncFIFO` and is counted in `sync`. Transmit: `TxIntake` stores whole frames, `TxFramer`
sends them with preamble, SFD, padding, FCS and the interpacket gap, in `sync`, whose clock
is the PHY's transmit clock. Counting is a pulse on `counts`; the board keeps the totals
(`espline.hw.board_registers`).
"""

from amaranth.hdl import DomainRenamer, Module, Signal
from amaranth.lib import data, fifo, wiring
from amaranth.lib.wiring import In, Out, connect

from ..packet import packet_signature
from .commit_fifo import CommitFifo, frame_word_layout
from .gmii import gmii_signature
from .rx_framer import FCS_BYTES, MIN_FRAME, RxFramer, RxOutcome
from .tx_framer import TxFramer
from .tx_intake import TxIntake

#: The port's counters (docs/boards.md "Board registers"): `counts` pulses one member a frame counted.
COUNTERS = ("rx_frames", "rx_bad_fcs", "rx_runt", "rx_oversize", "rx_overflow", "rx_error",
            "tx_frames", "tx_oversize", "tx_empty")
count_layout = data.StructLayout({name: 1 for name in COUNTERS})

RX_COUNTER = {RxOutcome.GOOD: "rx_frames", RxOutcome.BAD_FCS: "rx_bad_fcs", RxOutcome.RUNT: "rx_runt",
              RxOutcome.OVERSIZE: "rx_oversize", RxOutcome.OVERFLOW: "rx_overflow", RxOutcome.ERROR: "rx_error"}
CDC_DEPTH, OUTCOME_DEPTH = 8, 8


class EthernetPort(wiring.Component):
    """`width` bytes per packet-bus beat; frames of 64 to `max_frame` bytes with FCS received;
    `rx_fifo` and `tx_fifo` bytes of buffer (powers of two words, each holding a frame of
    `max_frame` bytes)."""

    def __init__(self, width: int, *, rx_domain: str, max_frame: int = 1518, rx_fifo: int = 4096,
                 tx_fifo: int = 2048):
        if max_frame < MIN_FRAME:
            raise ValueError(f"max_frame: {max_frame} is below the minimum frame of {MIN_FRAME} bytes")
        for name, size in (("rx_fifo", rx_fifo), ("tx_fifo", tx_fifo)):
            words = size // width
            if size % width or words & (words - 1) or size < max_frame:
                raise ValueError(f"{name}: {size} bytes is not a power-of-two number of {width}-byte words "
                                 f"holding a {max_frame}-byte frame")
        self.width, self.rx_domain, self.max_frame = width, rx_domain, max_frame
        self.rx_fifo, self.tx_fifo = rx_fifo, tx_fifo
        super().__init__({
            "rx": Out(packet_signature(width)),
            "tx": In(packet_signature(width)),
            "gmii": Out(gmii_signature()),
            "counts": Out(count_layout),
        })

    def elaborate(self, platform):
        m = Module()
        width, words = self.width, frame_word_layout(self.width)
        in_rx = DomainRenamer(self.rx_domain)

        # -- receive ------------------------------------------------------------------------
        m.submodules.rx_framer = framer = in_rx(RxFramer(width, self.max_frame))
        m.submodules.rx_buffer = rx_buffer = in_rx(CommitFifo(words, self.rx_fifo // width))
        m.submodules.rx_cdc = cdc = fifo.AsyncFIFOBuffered(width=words.size, depth=CDC_DEPTH,
                                                          w_domain=self.rx_domain, r_domain="sync")
        m.submodules.rx_outcomes = outcomes = fifo.AsyncFIFO(width=RxOutcome.as_shape().width, depth=OUTCOME_DEPTH,
                                                            w_domain=self.rx_domain, r_domain="sync")
        m.d.comb += [
            framer.rx_data.eq(self.gmii.rx_data), framer.rx_dv.eq(self.gmii.rx_dv), framer.rx_er.eq(self.gmii.rx_er),
            rx_buffer.commit.eq(framer.commit), rx_buffer.discard.eq(framer.discard),
            outcomes.w_data.eq(framer.outcome), outcomes.w_en.eq(framer.done),
            outcomes.r_en.eq(1),
        ]
        connect(m, framer.w, rx_buffer.w)
        connect(m, rx_buffer.r, cdc.w_stream)

        word = data.View(words, cdc.r_data)
        at_start = Signal(init=1)
        m.d.comb += [
            self.rx.valid.eq(cdc.r_rdy),
            self.rx.payload.data.eq(word.data),
            self.rx.payload.nbytes.eq(word.nbytes),
            self.rx.payload.last.eq(word.last),
            self.rx.payload.first.eq(at_start),
            cdc.r_en.eq(self.rx.ready),
        ]
        with m.If(self.rx.valid & self.rx.ready):
            m.d.sync += at_start.eq(word.last)

        # each frame's outcome counted a cycle after it crosses
        outcome = RxOutcome(outcomes.r_data)
        m.d.sync += [self.counts[name].eq(outcomes.r_rdy & (outcome == value)) for value, name in RX_COUNTER.items()]

        # -- transmit -----------------------------------------------------------------------
        m.submodules.tx_buffer = tx_buffer = CommitFifo(words, self.tx_fifo // width)
        m.submodules.tx_intake = intake = TxIntake(width, limit=self.max_frame - FCS_BYTES,
                                                   depth=tx_buffer.capacity)
        m.submodules.tx_framer = tx_framer = TxFramer(width)
        connect(m, wiring.flipped(self.tx), intake.i)
        connect(m, intake.w, tx_buffer.w)
        connect(m, tx_buffer.r, tx_framer.r)
        m.d.comb += [
            tx_buffer.commit.eq(intake.commit), tx_buffer.discard.eq(intake.discard),
            self.gmii.tx_data.eq(tx_framer.tx_data), self.gmii.tx_en.eq(tx_framer.tx_en),
            self.gmii.tx_er.eq(tx_framer.tx_er),
        ]
        m.d.sync += [self.counts.tx_frames.eq(tx_framer.sent), self.counts.tx_oversize.eq(intake.oversize),
                     self.counts.tx_empty.eq(intake.empty)]
        return m
