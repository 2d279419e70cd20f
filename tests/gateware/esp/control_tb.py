"""What the control-block tests share: the register map's layouts for a small build, the parsed
records of frames (from the gateware parser, tested on its own), an SA table programmed as the
driver would, an SPD that answers as the model's, and port forwarding for bench wrappers."""

import random

from amaranth.hdl import Signal
from amaranth.lib import wiring
from csr_tb import expected_sa_write

from espline import regmap as rm
from espline.gateware.csr.csr import CsrBlock
from espline.gateware.esp.parser import FrameParser
from espline.gateware.esp.sa_fields import share_read_port
from espline.regmap.enums import Action
from espline.sim.packetbus import put_frame, simulate

N_SA, N_POLICY, WIDTH = 16, 16, 16


def layouts():
    """The SA write, counter snapshot, event and threshold layouts of the N_SA/N_POLICY build."""
    csr = CsrBlock(rm.compile(N_SA=N_SA, N_POLICY=N_POLICY))
    csr._MustUse__silence = True  # built for its layouts only
    return (csr.sa_write.payload.shape(), csr.sa_counter_response.payload.shape(), csr.event_layout,
            csr.thresholds.shape())


def parsed_records(frames):
    """Each frame's `Parsed` record, from the gateware parser."""
    parser, records = FrameParser(WIDTH, max_frame=rm.DEFAULTS["MAX_FRAME"]), []

    async def feed(ctx):
        rng = random.Random(0)
        for f in frames:
            await put_frame(ctx, parser.i, f, WIDTH, rng)

    async def drain(ctx):
        ctx.set(parser.o.ready, 1)
        ctx.set(parser.parsed.ready, 1)
        while len(records) < len(frames):
            _, _, valid, record = await ctx.tick().sample(parser.parsed.valid, parser.parsed.payload)
            if valid:
                records.append(record)

    simulate(parser, feed, drain, cycles=200 * len(frames) + 10_000)
    return records


async def program(ctx, write, sas, starts=None):
    """Write `sas` into the SA table at their list indexes, as the driver's commits do (`starts`:
    index -> a starting number SEQ written instead of the SA's)."""
    for i, sa in enumerate(sas):
        payload = expected_sa_write(sa, i)
        if starts and i in starts:
            payload["entry"]["seq"] = starts[i]
        ctx.set(write.payload, payload)
        ctx.set(write.valid, 1)
        await ctx.tick().until(write.ready)
    ctx.set(write.valid, 0)


def spd_responder(lookup, result, model, dir, sas):
    """A background testbench answering each SPD lookup as `model`'s policy database does."""
    index_of = {(sa.dir, sa.spi): i for i, sa in enumerate(sas)}

    async def respond(ctx):
        ctx.set(lookup.ready, 1)
        while True:
            _, _, valid, key = await ctx.tick().sample(lookup.valid, lookup.payload)
            if not valid:
                continue
            policy = model.spd.lookup(dir, key.src, key.dst, key.proto,
                                      (key.sport, key.dport) if key.has_ports else None)
            ctx.set(result.payload, {"hit": 0} if policy is None else {
                "hit": 1, "action": Action[policy.action.upper()], "sa_index": index_of.get((dir, policy.spi), 0)})
            ctx.set(result.valid, 1)
            await ctx.tick().until(result.ready)
            ctx.set(result.valid, 0)
    return respond


def forward(m, outer, inner, names) -> None:
    """Connect members `names` of the bench `outer` to the same members of its part `inner`."""
    for name in names:
        member = outer.signature.members[name]
        if member.is_port:
            m.d.comb += (getattr(inner, name).eq(getattr(outer, name)) if member.flow == wiring.In
                         else getattr(outer, name).eq(getattr(inner, name)))
        elif member.flow == wiring.In:
            wiring.connect(m, wiring.flipped(getattr(outer, name)), getattr(inner, name))
        else:
            wiring.connect(m, getattr(inner, name), wiring.flipped(getattr(outer, name)))


def share_state_port(m, port, user) -> None:
    """Serve `user` (a dynamic state's shared read port, `sa_fields.shared_read_signature`) through
    `port`, which a rival takes first one cycle in four: the user waits for its grant as it would
    for the appliance's other users."""
    cycle = Signal(2)
    m.d.sync += cycle.eq(cycle + 1)
    _, grant = share_read_port(m, port, [(cycle == 0, 0), (user.en, user.addr)])
    m.d.comb += [user.granted.eq(grant), user.data.eq(port.data)]
