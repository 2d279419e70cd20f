"""The appliance gateware in Amaranth's simulator, programmed through the host driver and scored
against the reference model: shared by the tests and `make bench` (exact cycle stamps).

The simulator runs only while the host talks to it (`AmaranthSimTransport`), so traffic
testbenches start once the driver has loaded the configuration and the run then idles the bus
until the model's count of frames is out of every port, or a cycle budget is spent.
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


@dataclass
class Run:
    got: dict  # frames out of each port, by port name
    want: dict  # the model's frames for the same inputs, by (input port name, output port name)
    driver: Espline  # to read the counters
    stamps: dict = field(default_factory=dict)  # "<port>_<i|o>": [(cycle, first, last)] of every transfer
    cycles: int = 0  # clock cycles since the traffic started

    def expected(self, out: str) -> list:
        return [f for (_, o), frames in self.want.items() if o == out for f in frames]

    def matches(self) -> bool:
        """Every port emitted the model's frames, in the model's order per input port."""
        return all(interleaves(self.got[out], *[f for (_, o), f in self.want.items() if o == out and f])
                   for out in PORTS)


def run(site: Model, inputs: dict, *, config: str = "wide", idle: float = 0.2, stall: float = 0.2,
        seed: int = 1, dut: Appliance | None = None) -> Run:
    """Program `site`'s SAs and policies into the gateware, feed `inputs` ({Port: frames}) with
    random idle cycles and output stalls, and collect what comes out. `site` processes the same
    inputs afterwards, giving `want`."""
    dut = dut or Appliance(config)
    rng = random.Random(seed)
    go, got = [], {name: [] for name in PORTS}
    result = Run(got, {(i, o): [] for i in PORTS for o in PORTS}, None)

    def source(port, frames):
        async def bench(ctx, csr):
            while not go:
                await ctx.tick()
            for f in frames:
                await put_frame(ctx, getattr(dut, f"{port.value}_i"), f, dut.width, rng, idle)
        return bench

    def sink(name):
        async def bench(ctx, csr):
            while True:
                got[name].append(await take_frame(ctx, getattr(dut, f"{name}_o"), dut.width, rng, stall))
        return bench

    async def monitor(ctx, csr):
        streams = {f"{n}_{d}": getattr(dut, f"{n}_{d}") for n in PORTS for d in "io"}
        signals = [s for port in streams.values() for s in (port.valid, port.ready, port.payload)]
        while not go:
            await ctx.tick()
        async for _, _, *values in ctx.tick().sample(*signals):
            result.cycles += 1
            for k, name in enumerate(streams):
                valid, ready, beat = values[3 * k : 3 * k + 3]
                if valid and ready:
                    result.stamps.setdefault(name, []).append((result.cycles, beat.first, beat.last))

    benches = [source(p, f) for p, f in inputs.items()] + [sink(n) for n in PORTS] + [monitor]
    transport = AmaranthSimTransport(dut, benches)
    result.driver = Espline(transport, scan=False)
    result.driver.load(list(site.sad), site.spd.policies)
    go.append(1)
    for port, frames in inputs.items():
        for f in frames:
            verdict = site.process(port, f)
            if verdict.port is not None:
                result.want[port.value, verdict.port.value].append(verdict.frame)
    budget = 3000 + 40 * sum(len(f) // dut.width + 1 for frames in inputs.values() for f in frames)
    while budget > 0 and not all(len(got[n]) >= len(result.expected(n)) for n in PORTS):
        transport.idle(200)
        budget -= 200
    transport.idle(100)  # nothing more may come
    return result
