"""Never two packets under one (key, nonce) on the outbound side (docs/invariants.md §7), as far
as it is proven: `OutboundControl` whole with the `SaTable` it reads (2 entries, 2 policies),
from reset.

Free: the parsed records (every field), the SA writes (any entry, any index, at any time the
table takes them; new SAs and updates), the policy answers (any hit, action and SA index, at
any time), and every ready. Assumed, to name what a job belongs to (neither value steers the
control; both are only copied into the job): an SA written at index I has SPI I, and the first
key word of the n-th new SA written at index I is n (its *epoch*). An update (`ip xfrm state
update` semantics: the table keeps the entry's key and salt, the control its dynamic state) starts no epoch:
its key words are ignored, and - as the CSR block refuses an update that changes a fixed field
(`tests/gateware/csr/test_sa_commands.py`) - it is assumed to keep the entry's ESN flag. From
reset a new SA starts at sequence number 0 (its `seq`, replay-oseq, is assumed 0: the free
64-bit start made the 18-step run take minutes instead of seconds); `sequence-wrap` takes any. A
job's SPI then names its SA, and `job.gcm.key`'s top word (the first key word, for AES-128 and
AES-256 alike) names the key it was decided under.

Properties, for a watched SA (either index, `AnyConst`), over the protected (`SPLIT`) jobs that
leave `job`:

* the sequence number is never 0, and without ESN it fits 32 bits;
* the ESP header's sequence number is the low half of the IV (RFC 4106 §3: the IV is the
  64-bit sequence number);
* epochs never go back: a job decided under an earlier key never follows one decided under
  a later key;
* within one epoch - across any number of updates - the sequence numbers strictly increase (one
  nonce per packet under one key);
* (cover) two protected jobs in one epoch; a job of a later epoch after one of an earlier.

With `free_tables` (the `sequence-wrap` set) the run starts from *any consistent* SA table
instead of the empty one, and a new SA written during the run starts at *any* number (its
`seq`, replay-oseq, free: 64 bits, also at or beyond its last number), so BMC reaches the last
sequence numbers (2^32 - 1, 2^64 - 1 with ESN) in a few cycles: the SA tables' words are free
at the first step (`FREE_TABLES`, Yosys `setattr -unset init` on the mapped memories), and each
entry, read before the control first writes it, is assumed consistent (a live SA has a number
left: seq < seq_max; SPI = index, epoch 0); an entry the control has written - a new SA's fresh
state from its free start included - must be consistent (asserted). Then also:

* the job carrying the last number is the last under that write: the last number kills the SA
  (RFC 4303 §3.3.3), nothing wraps, under ESN either;
* (cover) the last number goes out, 32-bit and ESN; a job under a new write after a kill; the
  last number from an SA written during the run (so started near its end).
"""

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Assert, Assume, Cat, Const, Cover, Elaboratable, Module, Mux, Signal, Value
from amaranth.lib import data, wiring

from ...gateware.esp.outbound_control import EncapState, OutboundControl
from ...gateware.esp.sa_table import LIFETIMES, SECRET, SaTable
from ...gateware.esp.splitter import SPLIT
from .runner import elaborated, no_reset

#: with `free_tables`, the SA tables' words (mapped to flip-flops) start free
FREE_TABLES = ("w:table.public[[]*", "w:table.lifetimes[[]*", "w:control.dynamic[[]*")


def layouts(n_sa: int, n_policy: int):
    from ...gateware.csr.csr import CsrBlock
    from ...regmap import compile
    csr = CsrBlock(compile(N_SA=n_sa, N_POLICY=n_policy))
    csr._MustUse__silence = True  # built for its layouts only
    return csr.sa_write.payload.shape(), csr.sa_counter_response.payload.shape(), csr.event_layout


def big_endian_bytes(vector, first: int, n: int):
    """Bytes first..first+n-1 of a little-lane byte vector, read as a big-endian number."""
    return Cat(*[vector[8 * i : 8 * (i + 1)] for i in reversed(range(first, first + n))])


class SequenceNumbers(Elaboratable):
    def __init__(self, n_sa=2, n_policy=2, *, control=None, table=None, free_tables=False):
        self.n_sa, self.n_policy = n_sa, n_policy
        self.control = control or OutboundControl  # the mutation checks pass broken ones
        self.table = table or SaTable
        self.free_tables = free_tables

    def elaborate(self, platform):
        m = Module()
        no_reset(m)
        sa_write, counters, event = layouts(self.n_sa, self.n_policy)
        c = self.control(sa_write.members["entry"], counters, event, self.n_sa, self.n_policy)
        t = self.table(sa_write, self.n_sa, readers=1, directions=1)
        m.submodules.control = unit = elaborated(c) if self.free_tables else c
        m.submodules.table = table_unit = elaborated(t) if self.free_tables else t
        wiring.connect(m, t.read[0], c.table.read)
        m.d.comb += [c.table.hold.eq(t.hold), c.table.renewed.eq(t.renewed), t.quiet.eq(c.table.quiet)]
        sa = t.write  # the CSR block's SA writes

        for port in (c.parsed, sa, c.policy, c.counter_request):
            m.d.comb += [port.valid.eq(AnySeq(1)), port.payload.eq(AnySeq(len(Value.cast(port.payload))))]
        for port in (c.lookup, c.job, c.events, c.counter_response):
            m.d.comb += port.ready.eq(AnySeq(1))
        # the stream contract of the CSR block's writes: an offered write stays until taken
        # (an update reads its entry in one cycle and writes it in the next)
        held, held_write = Signal(), Signal.like(sa.payload)
        m.d.sync += [held.eq(sa.valid & ~sa.ready), held_write.eq(sa.payload)]
        with m.If(held):
            m.d.comb += Assume(sa.valid & (sa.payload.as_value() == held_write.as_value()))

        # -- the SPI names the SA, the first key word counts the writes of its index -----------
        epochs = [Signal(32, name=f"epoch_{i}") for i in range(self.n_sa)]
        esns = [Signal(name=f"esn_{i}") for i in range(self.n_sa)]  # of the entry's new SA
        w = sa.payload
        for i, (epoch, esn) in enumerate(zip(epochs, esns, strict=True)):
            with m.If(sa.valid & (w.index == i)):
                m.d.comb += Assume(w.entry.spi == i)
                with m.If(w.update):
                    m.d.comb += Assume(w.entry.flags.esn == esn)
                with m.Else():
                    m.d.comb += Assume(w.entry.key[0] == epoch + 1)
                    if not self.free_tables:  # from reset a new SA starts at 0; from a free table anywhere
                        m.d.comb += Assume(w.entry.seq == 0)
                    with m.If(sa.ready & ~t.refused):  # written (an inbound SA may be refused)
                        m.d.sync += [epoch.eq(epoch + 1), esn.eq(w.entry.flags.esn)]

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
        if not self.free_tables:
            updated = Signal()  # the watched entry was updated after a protected job of it
            with m.If(sa.valid & sa.ready & w.update & (w.index == watch) & seen):
                m.d.sync += updated.eq(1)
            m.d.comb += [Cover(mine & seen & (epoch == last_epoch)), Cover(mine & seen & (epoch > last_epoch)),
                         Cover(mine & updated & (epoch == last_epoch))]
            return m
        m.d.comb += Assume(~(sa.valid & w.update))  # from a free table: new SAs only

        # -- from any consistent table (`FREE_TABLES`: the SA tables' initial words are free) ---
        # An entry's words are its initial contents until the control first writes them; read
        # then (by the decision's read ports), they are assumed consistent: the SA's number is
        # its index, its epoch 0, and a live SA has sequence numbers left (seq < seq_max). Once
        # the control has written an entry, the same consistency is asserted instead.
        mems = {name: sub for fragment in (unit, table_unit) for sub, name, _ in fragment.subfragments}
        s_read, s_write = mems["public"]._read_ports[0], mems["public"]._write_ports[0]  # the control's read
        d_read, d_write = mems["dynamic"]._read_ports[0], mems["dynamic"]._write_ports[0]
        public = data.StructLayout({"valid": 1, **{name: field.shape for name, field in sa_write.members["entry"]
                                                   if name not in SECRET + LIFETIMES}})
        # the table's read is asynchronous, registered (as `SaTable` registers it); the dynamic state's
        # port is synchronous: what each shows now was read at its address of the cycle before (a
        # decision reads both at the SA index)
        static, state = Signal(public), data.View(EncapState, d_read._data)
        m.d.sync += static.eq(s_read._data)
        s_at, read_at = Signal(range(self.n_sa)), Signal(range(self.n_sa))
        m.d.sync += [s_at.eq(s_read._addr), read_at.eq(d_read._addr)]
        # written[i]: entry i written by the control up to two cycles back (what a read sees now)
        written_s, written_d = Signal(self.n_sa), Signal(self.n_sa)
        seen_s, seen_d = Signal(self.n_sa), Signal(self.n_sa)
        for i in range(self.n_sa):
            with m.If(s_write._en.any() & (s_write._addr == i)):
                m.d.sync += written_s[i].eq(1)
            with m.If(d_write._en.any() & (d_write._addr == i)):
                m.d.sync += written_d[i].eq(1)
        m.d.sync += [seen_s.eq(written_s), seen_d.eq(written_d)]
        seq_max = Mux(static.flags.esn, Const(2**64 - 1, 64), Const(2**32 - 1, 64))
        consistent = state.dead | (state.seq < seq_max)
        with m.If(~seen_s.bit_select(s_at, 1)):
            m.d.comb += Assume(static.spi == s_at)
        # reads made while the table renews an entry (the cycle after it wrote the static entry,
        # the directions quiet and held) feed no decision: the static entry is new there, its
        # dynamic state not yet
        read_renewing = Signal()
        m.d.sync += read_renewing.eq(t.renewed.en)
        with m.If((s_at == read_at) & ~read_renewing):
            with m.If(~seen_d.bit_select(read_at, 1)):
                m.d.comb += Assume(consistent)
            with m.Else():
                m.d.comb += Assert(consistent)

        # the last number kills the SA: nothing more under that write
        last_max = Signal()
        esn = job.gcm.aad_len == 12
        with m.If(mine):
            m.d.comb += Assert(~(seen & last_max & (epoch == last_epoch)))
            m.d.sync += last_max.eq(iv == Mux(esn, Const(2**64 - 1, 64), Const(2**32 - 1, 64)))
        m.d.comb += [Cover(mine & (iv == 2**32 - 1) & ~esn), Cover(mine & (iv == 2**64 - 1) & esn),
                     Cover(mine & seen & last_max & (epoch > last_epoch)),
                     # an SA written during the run, started near its end, sends its last number
                     Cover(mine & (epoch != 0) & (iv == Mux(esn, Const(2**64 - 1, 64), Const(2**32 - 1, 64))))]
        return m
