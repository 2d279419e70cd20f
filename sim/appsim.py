"""The appliance gateware in Amaranth's simulator, programmed through the host driver and scored
against the reference model: shared by the tests and `make bench` (exact cycle stamps).

The simulator runs only while the host talks to it (`AmaranthSimTransport`), so traffic
testbenches start once the driver has loaded the configuration and the run then idles the bus
until every input frame is in and the appliance's `idle` output says no frame is inside (each
one out whole or counted), so the counters read then account for every frame; a run that never
gets there fails when its cycle budget is spent.
`actions` run driver calls at chosen cycles while the frames flow (e.g. SA updates); the
simulator keeps running during each call's bus cycles.
"""

import random
from dataclasses import dataclass, field

from espline.gateware.appliance import Appliance
from espline.host.driver import Espline
from espline.host.transport.sim import AmaranthSimTransport
from espline.sim.model import Appliance as Model
from espline.sim.packetbus import put_frame, take_frame

PORTS = ("plain", "cipher", "host")


def interleaves(got: list, a: list = (), b: list = ()) -> bool:
    """Whether `got` is an interleaving of `a` and `b`, each kept in order (e.g. the ciphertext
    port, which merges protected and host-injected frames)."""
    if len(got) != len(a) + len(b):
        return False
    reachable = {0}  # how many frames of `a` the frames so far can have used
    for n, frame in enumerate(got):
        reachable = ({i + 1 for i in reachable if i < len(a) and a[i] == frame}
                     | {i for i in reachable if n - i < len(b) and b[n - i] == frame})
    return bool(reachable)


def subsequence(got: list, frames: list) -> bool:
    """Whether `got` is `frames` with some left out, the rest in order."""
    rest = iter(frames)
    return all(any(f == g for f in rest) for g in got)


@dataclass
class Run:
    got: dict  # frames out of each port, by port name
    want: dict  # the model's frames for the same inputs, by (input port name, output port name)
    driver: Espline  # to read the counters
    stamps: dict = field(default_factory=dict)  # "<port>_<i|o>": [(cycle, first, last)] of every transfer
    cycles: int = 0  # clock cycles since the traffic started
    actions: list = field(default_factory=list)  # (first, last) cycle of each action's driver calls

    def starts(self, name: str) -> list[int]:
        """The cycle of each frame's first beat on stream `name` ("<port>_<i|o>")."""
        return [cycle for cycle, first, _ in self.stamps.get(name, ()) if first]

    def expected(self, out: str) -> list:
        return [f for (_, o), frames in self.want.items() if o == out for f in frames]

    def matches(self) -> bool:
        """Every port emitted the model's frames, in the model's order per input port; except that
        punted frames the host queue dropped are missing from `host_o`, as many as its counter
        `punt_dropped` says (the model has no queue)."""
        punted = self.expected("host")
        return (all(interleaves(self.got[out], *[f for (_, o), f in self.want.items() if o == out and f])
                    for out in PORTS if out != "host")
                and subsequence(self.got["host"], punted)
                and len(punted) - len(self.got["host"]) == self.driver.global_counters()["punt_dropped"])


def run(site: Model, inputs: dict, *, config: str = "wide", idle: float = 0.2, stall: float = 0.2,
        seed: int = 1, dut: Appliance | None = None, actions=(), hold=None, program=None) -> Run:
    """Program `site`'s SAs and policies into the gateware, feed `inputs` ({Port: frames}) with
    random idle cycles and output stalls, and collect what comes out. `site` processes the same
    inputs afterwards, giving `want`.

    `program(driver)`, if given, programs the tables instead of `driver.load` of `site`'s.
    `actions`: `(when, call)` pairs, in order; `call(driver)` runs once the traffic has run `when`
    cycles, or once `when(run)` holds (e.g. `lambda r: len(r.starts("plain_i")) >= 10`).
    With actions, `want` stays empty (where the model applies them is the test's to find).
    `hold`: {output port name: `when(run)`}: that port takes nothing until `when(run)` holds.
    The run ends when every input is in and the appliance is idle; TimeoutError if it is not
    within a budget of cycles."""
    dut = dut or Appliance(config)
    rng = random.Random(seed)
    go, fed, got = [], [], {name: [] for name in PORTS}
    settled = [0]  # consecutive cycles with every input in and the appliance idle
    result = Run(got, {(i, o): [] for i in PORTS for o in PORTS}, None)

    def source(port, frames):
        async def bench(ctx, csr):
            while not go:
                await ctx.tick()
            for f in frames:
                await put_frame(ctx, getattr(dut, f"{port.value}_i"), f, dut.width, rng, idle)
            fed.append(port)
        return bench

    def sink(name):
        async def bench(ctx, csr):
            while hold and name in hold and not hold[name](result):
                await ctx.tick()
            while True:
                got[name].append(await take_frame(ctx, getattr(dut, f"{name}_o"), dut.width, rng, stall))
        return bench

    async def monitor(ctx, csr):
        streams = {f"{n}_{d}": getattr(dut, f"{n}_{d}") for n in PORTS for d in "io"}
        signals = [s for port in streams.values() for s in (port.valid, port.ready, port.payload)]
        while not go:
            await ctx.tick()
        async for _, _, idle_now, *values in ctx.tick().sample(dut.idle, *signals):
            result.cycles += 1
            # two samples: an input's last transfer may be counted in `fed` before this sample
            settled[0] = settled[0] + 1 if idle_now and len(fed) == len(inputs) else 0
            for k, name in enumerate(streams):
                valid, ready, beat = values[3 * k : 3 * k + 3]
                if valid and ready:
                    result.stamps.setdefault(name, []).append((result.cycles, beat.first, beat.last))

    benches = [source(p, f) for p, f in inputs.items()] + [sink(n) for n in PORTS] + [monitor]
    transport = AmaranthSimTransport(dut, benches)
    result.driver = Espline(transport, scan=False)
    if program is None:
        result.driver.load(list(site.sad), site.spd.policies)
    else:
        program(result.driver)
    go.append(1)
    budget = 3000 + 40 * sum(len(f) // dut.width + 1 for frames in inputs.values() for f in frames)
    if actions:
        for at, call in actions:
            while not at(result) if callable(at) else result.cycles < at:
                transport.idle(10 if callable(at) else min(50, at - result.cycles))
                if result.cycles > budget:
                    raise TimeoutError(f"action {len(result.actions)}: its moment never came")
            start = result.cycles
            call(result.driver)
            result.actions.append((start, result.cycles))
    else:
        for port, frames in inputs.items():
            for f in frames:
                verdict = site.process(port, f)
                if verdict.port is not None:
                    result.want[port.value, verdict.port.value].append(verdict.frame)
                if verdict.answer is not None:  # ICMP to a too-big frame, back out of the plaintext side
                    result.want[port.value, "plain"].append(verdict.answer)
    while settled[0] < 2:
        if result.cycles > budget:
            raise TimeoutError(f"the appliance is not idle after {result.cycles} cycles: inputs done "
                               f"{[p.value for p in fed]}, frames out {({n: len(f) for n, f in got.items()})}")
        transport.idle(20)
    return result


def explain(make_site, port, frames: list, updates: list, got: dict, *, bounds=None, final=None) -> list | None:
    """Where the model must apply SA updates to do what the hardware did, or None if nowhere.

    `make_site()` builds the model as first programmed; `updates[k]()` builds the k-th new SA
    (applied with `SaDatabase.update`). The answer is input indices s_1 <= s_2 <= ... (update k
    applied just before frame s_k; len(frames) = after the last) such that the model, fed
    `frames` on `port`, emits exactly `got` ({port name: frames}, in order) and `final(site)`
    holds for its end state. `bounds[k]` = (lo, hi) limits s_k (e.g. from cycle stamps). Frames
    dropped under both versions leave a switch point ambiguous: every candidate is tried."""
    bounds = bounds or [(0, len(frames))] * len(updates)

    def replay(points):
        """The model with updates applied at `points`: (site, index of the first frame whose
        output differs from `got` (or len(frames)), frames emitted per port)."""
        site, outs = make_site(), {name: 0 for name in PORTS}
        for i, frame in enumerate(frames + [None]):
            for k, s in enumerate(points):
                if s == i:
                    site.sad.update(updates[k]())
            if frame is None:
                return site, i, outs
            verdict = site.process(port, frame)
            if verdict.port is not None:
                name = verdict.port.value
                if outs[name] >= len(got[name]) or got[name][outs[name]] != verdict.frame:
                    return site, i, outs
                outs[name] += 1

    def search(points):
        site, matched, outs = replay(points)
        if len(points) == len(updates):
            complete = matched == len(frames) and all(outs[n] == len(got[n]) for n in PORTS)
            return points if complete and (final is None or final(site)) else None
        lo, hi = bounds[len(points)]
        for s in range(max(lo, points[-1] if points else 0), min(hi, matched) + 1):
            if (found := search(points + [s])) is not None:
                return found
        return None

    return search([])
