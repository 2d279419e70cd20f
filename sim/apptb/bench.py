"""cocotb module: the whole appliance under seeded random traffic, scored against the model.

``appliance_random``: reads the capabilities through the host driver, programs a
:class:`.traffic.SiteMix` configuration (``Espline.load``), runs traffic on all three inputs at
once with random valid/ready stalls on every port, waits until every frame is in and the
appliance's ``idle`` output says none is inside (two watchdogs: no beat moving on any port for
``APPTB_STALL`` cycles, and a total cycle budget), then compares the frames out, every global and
per-SA counter, and the SA events the host read meanwhile, with the model
(:class:`.scoreboard.Scoreboard`); global counters read during traffic must only grow.

Environment: ``APPTB_SEED`` (1), ``APPTB_FRAMES`` (1000, all ports together; a port the DUT
lacks gets none), ``APPTB_MIX`` (default | clean | hostile | jumbo | replay), ``APPTB_VALID_PROB`` (0.8),
``APPTB_READY_PROB`` (0.8), ``APPTB_BURST`` (1: mean length of valid/ready runs),
``APPTB_STALL`` (20000), ``APPTB_CYCLE_BUDGET`` (0: 400 per frame +
200000), ``APPTB_INPUTS`` (the inputs to drive, default ``plain_i,cipher_i,host_i``),
``APPTB_RESULT`` (JSON path for the figures), ``APPTB_CONFIG`` (wide: what `.traffic.gateware`
built, for the bus width and MTU; the table sizes, window and longest frame come from the CAP_*
registers).
"""

import functools
import json
import os
import time

import cocotb

from espline.host.driver import Espline

from .scoreboard import Scoreboard
from .tb import INPUTS, ApplianceBench
from .traffic import SiteMix, bus_and_mtu


def _env(name, default):
    return type(default)(os.environ.get(name, default))


async def run_random(dut, *, seed, frames, mix, valid_prob, ready_prob, burst=1, stall, budget, inputs=INPUTS,
                     config="wide"):
    """Program, run and score; return the figures (dict)."""
    wall0 = time.monotonic()
    width, mtu = bus_and_mtu(config)
    tb = ApplianceBench(dut, width=width, seed=seed, valid_prob=valid_prob, ready_prob=ready_prob, burst=burst)
    await tb.start()
    dev = await tb.host(Espline, tb.transport(), scan=False)
    site = SiteMix(seed, mix, n_sa=dev.n_sa, n_policy=dev.n_policy, window=dev.window, max_frame=dev.build.max_frame,
                   mtu=mtu)
    dut._log.info("seed %d, mix %s: %s", seed, mix, site.describe())
    sas, policies = site.config()
    await tb.host(dev.load, sas, policies)
    program_cycles = tb.cycle

    board = Scoreboard(site.model(), dump="mismatch")  # cocotb runs in the test folder
    counts = {port: n for port, n in site.counts(frames).items() if port in tb.sources and port in inputs}
    if len(counts) < 3:
        dut._log.warning("traffic on %s only", ", ".join(counts))
    for port, n in counts.items():
        tb.sources[port].on_frame = functools.partial(board.feed, port)
        tb.sources[port].feed(site.frames(port, n))
    for port, sink in tb.sinks.items():
        sink.on_frame = functools.partial(board.receive, port)

    wall1, start = time.monotonic(), tb.cycle
    budget = budget or 400 * frames + 200_000
    moved, last_move = -1, tb.cycle
    events, live = [], {}

    def poll_events():
        while (event := dev.poll_event()) is not None:
            events.append(event)

    def read_live(counters):
        """Global counters read while they count (readable without stopping traffic) may only grow."""
        shrunk = {k: (live[k], v) for k, v in counters.items() if v < live.get(k, 0)}
        assert not shrunk, f"global counters went back (before, after) at cycle {tb.cycle}: {shrunk}"
        live.update(counters)

    settled = 0  # consecutive checks with every source done and the DUT idle (`idle` is registered)
    while settled < 2:
        await tb.cycles(256)
        settled = settled + 1 if all(s.done for s in tb.sources.values()) and dut.idle.value else 0
        if tb.cycle % 2048 < 256:  # the host reads events while traffic runs, as it would
            await tb.host(poll_events)
        if tb.cycle % 16384 < 256:
            read_live(await tb.host(dev.global_counters))
        beats = sum(s.beats for s in tb.sources.values()) + sum(s.beats for s in tb.sinks.values())
        if beats != moved:
            moved, last_move = beats, tb.cycle
        if tb.cycle - last_move >= stall:
            raise AssertionError(f"watchdog: no beat moved for {stall} cycles at cycle {tb.cycle}; {_state(board)}")
        if tb.cycle - start >= budget:
            raise AssertionError(f"watchdog: cycle budget {budget} spent; {_state(board)}")
    traffic_cycles = tb.cycle - start
    wall2 = time.monotonic()
    assert not any(s.in_frame for s in tb.sinks.values()), "a frame is half out with the appliance idle"

    def read_counters():
        per_sa = {}
        for sa in board.model.sad:
            c = dev.sa_counters(dev.sa_index(sa.dir, sa.spi))
            per_sa[sa.dir, sa.spi] = vars(c)
        poll_events()
        return dev.global_counters(), per_sa, dev.regs.read("int_status")["overflow"]

    global_counters, sa_counters, lost = await tb.host(read_counters)
    read_live(global_counters)
    board.check_drained(global_counters["punt_dropped"])
    board.check_counters(global_counters, sa_counters)
    board.check_events(events, dev.sa_index, lost=bool(lost))
    wall3 = time.monotonic()
    total = sum(board.fed.values())
    return {
        "seed": seed, "mix": mix, "valid_prob": valid_prob, "ready_prob": ready_prob, "burst": burst,
        "missing_inputs": sorted(set(INPUTS) - set(counts)),
        "frames_in": {p.value: n for p, n in board.fed.items()},
        "frames_out": {p.value: n for p, n in board.received.items()},
        "counters": global_counters, "events": len(events), "events_lost": bool(lost),
        "sas": len(sas), "policies": len(policies),
        "beats_in": sum(s.beats for s in tb.sources.values()),
        "beats_out": sum(s.beats for s in tb.sinks.values()),
        "program_cycles": program_cycles, "traffic_cycles": traffic_cycles, "cycles": tb.cycle,
        "wall_s": {"setup": wall1 - wall0, "traffic": wall2 - wall1, "check": wall3 - wall2, "total": wall3 - wall0},
        "frames_per_s": total / (wall2 - wall1), "cycles_per_s": traffic_cycles / (wall2 - wall1),
    }


def _state(board: Scoreboard) -> str:
    missing = board.missing()
    return (f"fed {({p.value: n for p, n in board.fed.items()})}, "
            f"received {({p.value: n for p, n in board.received.items()})}, still expected: {missing or 'none'}")


@cocotb.test()
async def appliance_random(dut):
    figures = await run_random(
        dut, seed=_env("APPTB_SEED", 1), frames=_env("APPTB_FRAMES", 1000), mix=_env("APPTB_MIX", "default"),
        valid_prob=_env("APPTB_VALID_PROB", 0.8), ready_prob=_env("APPTB_READY_PROB", 0.8),
        burst=_env("APPTB_BURST", 1.0),
        stall=_env("APPTB_STALL", 20000), budget=_env("APPTB_CYCLE_BUDGET", 0),
        inputs=_env("APPTB_INPUTS", ",".join(INPUTS)).split(","), config=_env("APPTB_CONFIG", "wide"))
    dut._log.info("%s", json.dumps(figures))
    if os.environ.get("APPTB_RESULT"):
        with open(os.environ["APPTB_RESULT"], "w") as f:
            json.dump(figures, f, indent=1)
