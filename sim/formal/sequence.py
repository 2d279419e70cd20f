"""Never two packets under one (key, nonce) on the outbound side (docs/invariants.md §7), as far
as it is proven: `OutboundControl` whole (SA table of 2 entries, 2 policies), from reset.

Free: the parsed records (every field), the SA writes (any entry, any index, at any time the
control takes them), the policy answers (any hit, action and SA index, at any time), and every
ready. Assumed, to name what a job belongs to (neither value steers the control; both are only
copied into the job): an SA written at index I has SPI I, and the first key word of the n-th
write of index I is n (its *epoch*). A job's SPI then names its SA, and `job.gcm.key`'s top
word (the first key word, for AES-128 and AES-256 alike) names the write it was decided under.

Properties, for a watched SA (either index, `AnyConst`), over the protected (`SPLIT`) jobs that
leave `job`:

* the sequence number is never 0, and without ESN it fits 32 bits;
* the ESP header's sequence number is the low half of the IV (RFC 4106 §3: the IV is the
  64-bit sequence number);
* epochs never go back: a job decided under an earlier write never follows one decided under
  a later write;
* within one epoch the sequence numbers strictly increase (one nonce per packet under one key);
* (cover) two protected jobs in one epoch; a job of a later epoch after one of an earlier.

Not proven here: the kill at the last sequence number (§3.3.3), which BMC from reset cannot
reach (2^32 packets); docs/verification.md says what it needs.
"""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, Cover, Elaboratable, Module, Signal, Value

from ...gateware.esp.outbound_control import OutboundControl
from ...gateware.esp.splitter import SPLIT
from .runner import no_reset


def layouts(n_sa: int, n_policy: int):
    from ...gateware.csr.csr import CsrBlock
    from ...host.regmap import compile
    csr = CsrBlock(compile(N_SA=n_sa, N_POLICY=n_policy))
    csr._MustUse__silence = True  # built for its layouts only
    return csr.sa_write.payload.shape(), csr.sa_counter_response.payload.shape(), csr.event_layout


def big_endian_bytes(vector, first: int, n: int):
    """Bytes first..first+n-1 of a little-lane byte vector, read as a big-endian number."""
    return Cat(*[vector[8 * i : 8 * (i + 1)] for i in reversed(range(first, first + n))])


class SequenceNumbers(Elaboratable):
    def __init__(self, n_sa=2, n_policy=2, *, control=None):
        self.n_sa, self.n_policy = n_sa, n_policy
        self.control = control or OutboundControl  # the mutation check passes a broken one

    def elaborate(self, platform):
        m = Module()
        no_reset(m)
        sa_write, counters, event = layouts(self.n_sa, self.n_policy)
        m.submodules.control = c = self.control(sa_write, counters, event, self.n_sa, self.n_policy)

        for port in (c.parsed, c.sa_write, c.policy, c.counter_request):
            m.d.comb += [port.valid.eq(AnySeq(1)), port.payload.eq(AnySeq(len(Value.cast(port.payload))))]
        for port in (c.lookup, c.job, c.events, c.counter_response):
            m.d.comb += port.ready.eq(AnySeq(1))

        # -- the SPI names the SA, the first key word counts the writes of its index -----------
        epochs = [Signal(32, name=f"epoch_{i}") for i in range(self.n_sa)]
        w = c.sa_write.payload
        for i, epoch in enumerate(epochs):
            with m.If(c.sa_write.valid & (w.index == i)):
                m.d.comb += [Assume(w.entry.spi == i), Assume(w.entry.key[0] == epoch + 1)]
                with m.If(c.sa_write.ready):
                    m.d.sync += epoch.eq(epoch + 1)

        # -- the protected jobs of the watched SA ----------------------------------------------
        watch = Signal(range(self.n_sa))
        m.d.comb += watch.eq(AnyConst(len(watch)))
        job = c.job.payload
        spi, seq_low, iv = big_endian_bytes(job.esp, 0, 4), big_endian_bytes(job.esp, 4, 4), \
            big_endian_bytes(job.esp, 8, 8)
        epoch = job.gcm.key[224:256]
        seen, last_seq, last_epoch = Signal(), Signal(64), Signal(32)
        mine = c.job.valid & c.job.ready & (job.action == SPLIT) & (spi == watch)
        with m.If(mine):
            m.d.comb += [Assert(iv != 0), Assert((job.gcm.aad_len == 12) | (iv[32:] == 0)),
                         Assert(seq_low == iv[:32])]
            with m.If(seen):
                m.d.comb += Assert(epoch >= last_epoch)
                with m.If(epoch == last_epoch):
                    m.d.comb += Assert(iv > last_seq)
            m.d.sync += [seen.eq(1), last_seq.eq(iv), last_epoch.eq(epoch)]
        m.d.comb += [Cover(mine & seen & (epoch == last_epoch)), Cover(mine & seen & (epoch > last_epoch))]
        return m
