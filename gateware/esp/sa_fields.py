"""What both directions read out of an SA table entry (the register map's `sa_stage` layout):
the GCM command of a packet, lifetime checks, SA events and per-SA counter snapshots; and the
read ports of the SA table and the dynamic states, each shared in turn by its readers."""

from amaranth.hdl import Cat, Const, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


def gcm_command(cmd, sa, *, iv, seq_low, seq_high, length, decrypt) -> list:
    """Statements filling a `GCMCommand` for one ESP packet of `sa` (RFC 4106: nonce = salt ‖ IV
    (§4), AAD = SPI ‖ [seq high ‖] seq low (§5), ICV 8/12/16 bytes (§6))."""
    key = [sa.key[i] for i in range(8)]  # KEY0 holds the first key bytes: the most significant
    return [
        cmd.key.eq(Mux(sa.flags.aes256, Cat(*reversed(key)), Cat(Const(0, 128), *reversed(key[:4])))),
        cmd.aes256.eq(sa.flags.aes256), cmd.decrypt.eq(decrypt),
        cmd.iv.eq(Cat(iv, sa.salt)),
        cmd.aad.eq(Mux(sa.flags.esn, Cat(Const(0, 32), seq_low, seq_high, sa.spi), Cat(Const(0, 64), seq_low, sa.spi))),
        cmd.aad_len.eq(Mux(sa.flags.esn, 12, 8)),
        cmd.length.eq(length), cmd.icv_len.eq(sa.flags.icv_len),
    ]


def reached(count, limit):
    """A lifetime limit (0: none) is reached (RFC 4301 §4.4.2.1)."""
    return (limit != 0) & (count >= limit)


def shared_read_signature(n_sa: int, shape) -> wiring.Signature:
    """A read port of a memory that several users share in turn (`share_read_port`), from the
    port's side: a user asks for it (`en`) with an index (`addr`); once `granted`, the entry is on
    `data` the next cycle."""
    return wiring.Signature({"addr": In(range(n_sa)), "en": In(1), "granted": Out(1), "data": Out(shape)})


def share_read_port(m, port, users) -> list:
    """Let `users` ((asks, addr) pairs, the first the most urgent) share the synchronous read port
    `port`: the first that asks in a cycle has it, its data on `port.data` the next cycle; in a
    cycle none asks, the port reads the first user's index. Returns each user's grant. A user that
    asks for one cycle a frame costs the others at most that cycle. Users that need several shared
    ports in one cycle must come in the same order on each (else two can wait for each other)."""
    grants, taken = [], Const(0, 1)
    for k, (asks, addr) in enumerate(users):
        grant = Signal(name=f"{port.addr.name}_grant_{k}")
        m.d.comb += grant.eq(asks & ~taken)
        if k == 0:  # the first user's index, unless another has the port
            m.d.comb += port.addr.eq(addr)
        else:
            with m.If(grant):
                m.d.comb += port.addr.eq(addr)
        grants.append(grant)
        taken = taken | asks
    return grants


def serve_snapshots(m, request, response, port, values: dict, owners) -> list:
    """Answer each SA index on `request` with `response`, its members (`values`: name -> value of
    `port.data`) read from the SA's dynamic state through `port` in a cycle none of its `owners`
    ((asks, addr) pairs, as `share_read_port` takes them) asks for it; the answer waits in
    registers until taken. Returns the owners' grants."""
    asked = Signal()  # `port.data` holds the requested SA's state
    *grants, lent = share_read_port(m, port, [*owners, (request.valid & request.ready, request.payload)])
    m.d.comb += request.ready.eq(~asked & ~response.valid & ~Cat(asks for asks, _ in owners).any())
    m.d.sync += asked.eq(lent)
    with m.If(response.ready):
        m.d.sync += response.valid.eq(0)
    with m.If(asked):
        m.d.sync += response.valid.eq(1)
        m.d.sync += [getattr(response.payload, name).eq(value) for name, value in values.items()]
    return grants


def report_events(m, events, pending, kinds, index) -> None:
    """Emit one event per set bit of `pending`, lowest first (`kinds`: each bit's event code) for
    SA `index`, clearing each bit as its event is taken."""
    m.d.comb += [events.valid.eq(pending != 0), events.payload.index.eq(index)]
    for bit in reversed(range(len(kinds))):  # the lowest set bit's assignment comes last and wins
        with m.If(pending[bit]):
            m.d.comb += events.payload.kind.eq(kinds[bit])
    with m.If(events.valid & events.ready):
        m.d.sync += pending.eq(pending & (pending - 1))
