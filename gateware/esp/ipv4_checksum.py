"""IPv4 header checksum (RFC 791 §3.1, RFC 1071), summed beat by beat as a frame streams by.

The one's-complement sum is associative and commutative (RFC 1071 §2(A)), so each beat's header
words are added to an integer total as they pass: the same sum as over the whole header at once,
with adders for one beat's words instead of thirty. The total is never folded: its end-around
carries (RFC 1071 §1) make all ones exactly when its low 16 bits are the complement of the rest
(below). A beat's words are summed in the cycle it is taken, added to the
total the next, so the verdict comes the cycle after a frame's last beat. The header's words are
those of its first 4 × IHL bytes, IHL being the low nibble of its first byte (RFC 791 §3.1), as
the reference model's `ipv4.header_length` sums them.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..packet import beat_layout
from .ipv4_header import big_endian

LONGEST = 60  # bytes: IHL 15


class HeaderChecksum(wiring.Component):
    """Watch the beats of a packet bus (`beat`, taken when `take`) whose frames hold an IPv4
    header at one of `starts` bytes in, `choice` saying which (from the beat holding the
    earliest of them on); `ok` is whether the header's words taken up to the cycle before sum to
    0xffff. The cycle after a frame's last beat is taken, `ok` is the frame's checksum verdict,
    meaningful when the frame holds the whole header (4 × IHL bytes: the bytes of the last beat
    past `nbytes` count as they are).

    Frames are delimited by `last` alone (`espline.gateware.packet`). The header's 16-bit words
    must not straddle beats: `width` and `starts` even.
    """

    def __init__(self, width: int, starts: tuple = (0,)):
        if width % 2 or any(start % 2 for start in starts):
            raise ValueError(f"width {width}, starts {starts}: a header word would straddle two beats")
        self.width, self.starts = width, tuple(starts)
        super().__init__({"beat": In(beat_layout(width)), "take": In(1), "choice": In(range(len(starts))),
                          "ok": Out(1)})

    def elaborate(self, platform):
        m = Module()
        w, beat = self.width, self.beat
        last_beat = (max(self.starts) + LONGEST - 1) // w  # the last beat a header word can be in
        index = Signal(range(last_beat + 2))  # the beat's number in its frame, saturating past the header
        starts = Signal(init=1)  # the next beat starts a frame
        at = Mux(starts, 0, index)

        start, ihl, ihl_now = Signal(range(max(self.starts) + 1)), Signal(4), Signal(4)
        opening, opening_words = Signal(), Signal(w // 2)  # the header's first beat (with IHL); its words in it
        m.d.comb += ihl_now.eq(ihl)
        with m.Switch(self.choice):
            for c, position in enumerate(self.starts):
                with m.Case(c):
                    ihl_beat, ihl_lane = divmod(position, w)
                    nibble = beat.data.word_select(ihl_lane, 8)[:4]
                    m.d.comb += [start.eq(position), opening.eq(at == ihl_beat),
                                 opening_words.eq(Cat(4 * nibble > 2 * k - ihl_lane if 2 * k >= ihl_lane else 0
                                                      for k in range(w // 2)))]
                    with m.If(at == ihl_beat):
                        m.d.comb += ihl_now.eq(nibble)

        def inside(position):
            return (position >= start) & (position < start + 4 * ihl_now)

        # the next beat's words in the header, registered as this beat is taken (none before `choice`
        # holds): a beat's words are summed from flip-flops but on the header's first beat, where they
        # depend on its IHL
        next_words = Signal(w // 2)
        with m.If(self.take):
            m.d.sync += next_words.eq(Mux(beat.last | (at < min(self.starts) // w), 0,
                                          Cat(inside((at + 1) * w + 2 * k) for k in range(w // 2))))
        words = [Mux(Mux(opening, opening_words[k], next_words[k]), big_endian(beat.data, 2 * k, 2), 0)
                 for k in range(w // 2)]
        # the beat's words (0 if none is taken) and whether it started a frame, then the total with them
        part, first = Signal(16 + (w // 2 - 1).bit_length()), Signal()
        m.d.sync += [part.eq(Mux(self.take, sum(words), 0)), first.eq(self.take & starts)]
        total = Signal(16 + (LONGEST // 2 - 1).bit_length())  # at most 30 words of 16 bits
        total_now = Signal.like(total)
        m.d.comb += [
            total_now.eq(Mux(first, 0, total) + part),
            # the folded sum is 0xffff iff the integer sum x = hi * 2**16 + lo (hi < 30) is a multiple
            # of 0xffff above 0, i.e. hi + lo (x modulo 0xffff, below 2 * 0xffff) is 0xffff: lo = ~hi,
            # lo ^ hi all ones, which a carry chain tells (its carry out adding 1) as fast as the sum's
            self.ok.eq(((total_now[:16] ^ total_now[16:]) + 1)[16]),
        ]
        m.d.sync += total.eq(total_now)
        with m.If(self.take):
            m.d.sync += [ihl.eq(ihl_now), starts.eq(beat.last)]
            with m.If(at <= last_beat):
                m.d.sync += index.eq(at + 1)
        return m
