"""What both directions read out of an SA table entry (the register map's `sa_stage` layout):
the GCM command of a packet, lifetime checks, SA events and per-SA counter snapshots."""

from amaranth.hdl import Cat, Const, Mux


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


def serve_snapshots(m, request, response, read_port, values: dict) -> None:
    """Answer each SA index on `request` with `response` one cycle later, its members (`values`:
    name -> value of `read_port.data`) read from the SA's dynamic state through `read_port`."""
    m.d.comb += [read_port.addr.eq(request.payload), request.ready.eq(~response.valid)]
    m.d.comb += [getattr(response.payload, name).eq(value) for name, value in values.items()]
    with m.If(response.ready):
        m.d.sync += response.valid.eq(0)
    with m.If(request.valid & request.ready):
        m.d.sync += response.valid.eq(1)


def report_events(m, events, pending, kinds, index) -> None:
    """Emit one event per set bit of `pending`, lowest first (`kinds`: each bit's event code) for
    SA `index`, clearing each bit as its event is taken."""
    m.d.comb += [events.valid.eq(pending != 0), events.payload.index.eq(index)]
    for bit in reversed(range(len(kinds))):  # the lowest set bit's assignment comes last and wins
        with m.If(pending[bit]):
            m.d.comb += events.payload.kind.eq(kinds[bit])
    with m.If(events.valid & events.ready):
        m.d.sync += pending.eq(pending & (pending - 1))
