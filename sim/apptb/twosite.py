"""cocotb module: `make demo` on the gateware, two appliances and a wire, scored against the model.

The top (`espline.sim.demo.two_site_top`) holds site A and site B, each an `Appliance`, ports
``a_*`` and ``b_*``. Both are programmed from docs/examples/site-{a,b}.toml through the host
driver; a Python wire joins A's ``cipher_o`` to B's ``cipher_i`` and back, and the attacker
puts its frames on it. Each site has a :class:`.scoreboard.Scoreboard`: the frames entering it
go through a reference model loaded from the same TOML, and every frame out of every port must
be the model's, bit-exact; at the end every global and per-SA counter read from the hardware
must equal the model's. Phases (each drained before the next): LAN traffic both ways, extras
(ARP, ssh, no policy), attacks, IKE. Captures are written from the gateware's frames, stamped
with the simulated time (100 MHz).

Environment: ``DEMO_OUT`` (folder for the pcaps), ``DEMO_PACKETS`` (each way), ``DEMO_RESULT``
(JSON: counters of hardware and model, checks, mismatches).
"""

import json
import os
import random
import time
from pathlib import Path

import cocotb

from espline.config import load
from espline.host.driver import Espline
from espline.sim import demo
from espline.sim.model import Appliance
from espline.sim.model.accounting import frames_accounted

from .scoreboard import Mismatch, Scoreboard
from .tb import ApplianceBench

PERIOD_NS = 10
EPOCH = 1_700_000_000.0
STALL = 20_000  # cycles without a beat moving while frames are expected: the gateware is stuck


class SiteView:
    """One site's ports of the two-site top under the appliance's own names (``plain_i__valid``
    for ``a_plain_i__valid``); ``clk`` and ``rst`` are shared."""

    def __init__(self, dut, prefix: str):
        self._dut, self._prefix = dut, prefix

    def __getattr__(self, name):
        if name in ("clk", "rst", "_log"):
            return getattr(self._dut, name)
        return getattr(self._dut, self._prefix + name)


@cocotb.test()
async def two_sites(dut):
    packets = int(os.environ.get("DEMO_PACKETS", 200))
    out = Path(os.environ.get("DEMO_OUT", "."))
    wall0 = time.monotonic()
    configs = {s: load(demo.EXAMPLES / f"site-{s.lower()}.toml") for s in "AB"}
    tb = {s: ApplianceBench(SiteView(dut, f"{s.lower()}_"), seed=s, period_ns=PERIOD_NS) for s in "AB"}
    clocked = tb["A"]  # one loop clocks both sites' components
    for c in [*tb["B"].sources.values(), *tb["B"].sinks.values(), tb["B"].bus]:
        clocked.add(c)
    await clocked.start()
    dev = {}
    for s in "AB":
        dev[s] = await tb[s].host(Espline, tb[s].transport(), scan=False)
        await tb[s].host(dev[s].load, configs[s].sas, configs[s].policies)
    program_cycles = clocked.cycle

    boards = {s: Scoreboard(Appliance.from_config(configs[s]), dump=f"mismatch-{s.lower()}") for s in "AB"}
    errors: list[str] = []
    clock = [EPOCH]
    links = {name: demo.Link(out / f"{name}.pcap", clock) for name in ("lan-a", "wire", "lan-b")}
    lan = {"A": links["lan-a"], "B": links["lan-b"]}
    other = {"A": "B", "B": "A"}
    phase = ["traffic"]
    delivered = {"A": [], "B": []}  # plain_o frames during the traffic phase
    outputs = {s: {p: [] for p in ("plain_o", "cipher_o", "host_o")} for s in "AB"}
    out_during_attacks = [0]
    captured = []  # (ESP frame on the wire, receiver)

    def now() -> float:
        return EPOCH + clocked.cycle * PERIOD_NS * 1e-9

    def fed(site, port, frame):
        if port == "plain_i":
            lan[site].see(frame, now())
        boards[site].feed(port, frame)

    def guard(site, check, *args, **kwargs):
        """Run a scoreboard check; a mismatch is recorded (and reported), not raised."""
        try:
            check(*args, **kwargs)
        except Mismatch as e:
            errors.append(f"site {site}: {e}")

    def received(site, port, frame):
        guard(site, boards[site].receive, port, frame)
        outputs[site][port].append(frame)
        if phase[0] == "attacks":
            out_during_attacks[0] += 1
        if port == "plain_o":
            lan[site].see(frame, now())
            if phase[0] == "traffic":
                delivered[site].append(frame)
        elif port == "cipher_o":  # onto the wire, to the other site
            links["wire"].see(frame, now())
            if frame[12:14] == b"\x08\x00" and frame[14 + 9] == 50:
                captured.append((frame, other[site]))
            tb[other[site]].sources["cipher_i"].send(frame)

    for s in "AB":
        for port, source in tb[s].sources.items():
            source.on_frame = lambda f, s=s, port=port: fed(s, port, f)
        for port, sink in tb[s].sinks.items():
            sink.on_frame = lambda f, s=s, port=port: received(s, port, f)

    def beats() -> int:
        return sum(c.beats for t in tb.values() for c in [*t.sources.values(), *t.sinks.values()])

    async def drain(what: str) -> bool:
        """Wait until every frame is in and both appliances are idle (each frame out or counted:
        `idle` is registered, so twice); False if the gateware stalls."""
        moved, last, settled = -1, clocked.cycle, 0
        while settled < 2:
            await clocked.cycles(64)
            settled = settled + 1 if (all(src.done for t in tb.values() for src in t.sources.values())
                                      and all(t.dut.idle.value for t in tb.values())) else 0
            if (n := beats()) != moved:
                moved, last = n, clocked.cycle
            if clocked.cycle - last >= STALL:
                errors.append(f"{what}: no beat moved for {STALL} cycles; still expected: "
                              + "; ".join(f"site {s}: {b.missing() or 'none'}" for s, b in boards.items()))
                return False
        return True

    rng = random.Random(2026)
    lan_a, lan_b = demo.lan_traffic(packets, rng)
    traffic_start = clocked.cycle
    tb["A"].sources["plain_i"].feed(lan_a)
    tb["B"].sources["plain_i"].feed(lan_b)
    ok = await drain("LAN traffic")
    traffic_cycles = clocked.cycle - traffic_start
    if ok:
        phase[0] = "extras"
        for frame in demo.extras():
            tb["A"].sources["plain_i"].send(frame)
        ok = await drain("ARP, ssh, no policy")
    hits = demo.attacks(captured, rng) if ok else []
    if ok:
        phase[0] = "attacks"
        for frame, receiver in hits:
            links["wire"].see(frame, now())
            tb[receiver].sources["cipher_i"].send(frame)
        ok = await drain("attacks")
    if ok:
        phase[0] = "ike"
        tb["A"].sources["host_i"].send(demo.ike_frame())
        ok = await drain("IKE")
    await clocked.cycles(1000)
    for s, board in boards.items():
        if any(sink.in_frame for sink in tb[s].sinks.values()):
            errors.append(f"site {s}: a frame is half out after the last expected one")
        if ok:
            guard(s, board.check_drained)
    for link in links.values():
        link.pcap.__exit__()

    sites, counters_checked = {}, 0
    for s, board in boards.items():
        d = dev[s]

        def read(d=d, board=board):
            sa = {(x.dir, x.spi): vars(d.sa_counters(d.sa_index(x.dir, x.spi))) for x in board.model.sad}
            events = []
            while (e := d.poll_event()) is not None:
                events.append(e)
            return d.global_counters(), sa, events, d.regs.read("int_status")["overflow"]

        hw_global, hw_sa, events, lost = await tb[s].host(read)
        guard(s, board.check_counters, hw_global, hw_sa)
        guard(s, board.check_events, events, d.sa_index, lost=bool(lost))
        want_sa = board.expected_sa_counters()
        counters_checked += len(board.model.counters.as_dict()) + sum(len(v) for v in want_sa.values())
        name = {k: f"{k[0]} spi {k[1]:#010x}" for k in want_sa}
        sites[s] = {
            "config": f"docs/examples/site-{s.lower()}.toml",
            "hw": {"global": hw_global, "sa": {name[k]: {f: hw_sa[k][f] for f in v} for k, v in want_sa.items()}},
            "model": {"global": board.model.counters.as_dict(), "sa": {name[k]: v for k, v in want_sa.items()}},
            "frames_out": {p: len(f) for p, f in outputs[s].items()},
        }

    result = {
        "packets": packets, "errors": errors,
        "frames_checked": sum(sum(b.received.values()) for b in boards.values()),
        "counters_checked": counters_checked,
        "checks": {
            "delivered_ab": sum(x == y for x, y in zip(delivered["B"], lan_a, strict=False))
            if len(delivered["B"]) == len(lan_a) else 0,
            "delivered_ba": sum(x == y for x, y in zip(delivered["A"], lan_b, strict=False))
            if len(delivered["A"]) == len(lan_b) else 0,
            "attacks": len(hits), "attacks_dropped": ok and bool(hits) and out_during_attacks[0] == 0,
            "punted": outputs["B"]["host_o"] == [demo.ike_frame()],
            "accounted": all(frames_accounted(sites[s]["hw"]["global"]) for s in "AB"),
        },
        "sites": sites, "program_cycles": program_cycles, "traffic_cycles": traffic_cycles,
        "cycles": clocked.cycle, "wall_s": time.monotonic() - wall0,
    }
    dut._log.info("%s", json.dumps(result))
    if os.environ.get("DEMO_RESULT"):
        Path(os.environ["DEMO_RESULT"]).write_text(json.dumps(result, indent=1))
    assert not errors, "; ".join(errors)
