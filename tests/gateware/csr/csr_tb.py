"""Bench for the CSR block: a stand-in for the datapath on its ports, and a bus-cycle counter."""

import ipaddress
import random
from collections import deque

from amaranth.hdl import Array, Signal
from amaranth.lib import data

from espline import regmap as rm
from espline.gateware.csr.csr import CsrBlock
from espline.host.transport.sim import AmaranthSimTransport
from espline.regmap.enums import COUNTERS


def to_python(value, layout):
    """A sampled struct/array value as nested dicts and lists of ints."""
    if isinstance(layout, data.StructLayout):
        return {name: to_python(getattr(value, name), member.shape) for name, member in layout}
    if isinstance(layout, data.ArrayLayout):
        return [to_python(value[i], layout.elem_shape) for i in range(layout.length)]
    return int(value.as_value().value) if hasattr(value, "as_value") else int(value)


class DatapathStub:
    """Takes table writes (ready at random with `ready_prob`), answers counter snapshots from
    `sa_counters`, drives the global counters live (`CountingCsrBlock`), sends `events`; counts bus cycles. An SA write
    whose SPI is in `refuse` is refused as the SA table refuses one its SPI index has no slot for."""

    def __init__(self, csr: CsrBlock, seed: int = 0, ready_prob: float = 1.0):
        self.csr, self.rng, self.ready_prob = csr, random.Random(seed), ready_prob
        self.sa_table: dict[int, dict] = {}
        self.spd_table: dict[int, dict] = {}
        self.sa_writes: list[dict] = []
        self.refuse: set[int] = set()
        self.spd_writes: list[dict] = []
        self.sa_offered: list[dict] = []  # every payload seen on sa_write while valid
        self.sa_table_history: list[dict] = []  # the SA table after every accepted write
        self.sa_counters: dict[int, dict] = {}
        self.global_counters: dict[str, int] = {}
        self.events: deque = deque()
        self.bus_cycles = 0
        self.irq = False

    async def run(self, ctx, csr):
        c = csr
        sa_layout = c.sa_write.payload.shape()
        spd_layout = c.spd_write.payload.shape()
        response, applied = None, {}
        while True:
            sa_ready = self.rng.random() < self.ready_prob
            spd_ready = self.rng.random() < self.ready_prob
            ctx.set(c.sa_write.ready, sa_ready)
            refused = sa_ready and ctx.get(c.sa_write.payload.entry.spi) in self.refuse
            ctx.set(c.sa_refused, refused)
            ctx.set(c.spd_write.ready, spd_ready)
            if self.global_counters != applied:
                applied = dict(self.global_counters)
                for name, value in applied.items():
                    ctx.set(c.counter_values[COUNTERS.index(name)], value)
            req_ready = response is None
            ctx.set(c.sa_counter_request.ready, req_ready)
            if response is not None:
                ctx.set(c.sa_counter_response.payload, response)
            ctx.set(c.sa_counter_response.valid, response is not None)
            sending = bool(self.events)
            if sending:
                kind, index = self.events[0]
                ctx.set(c.events.payload, {"kind": kind, "index": index})
            ctx.set(c.events.valid, sending)
            (_, _, sa_valid, sa_payload, spd_valid, spd_payload, req_valid, req_payload, resp_ready,
             cyc, stb, ack, self.irq) = await ctx.tick().sample(
                c.sa_write.valid, c.sa_write.payload, c.spd_write.valid, c.spd_write.payload,
                c.sa_counter_request.valid, c.sa_counter_request.payload, c.sa_counter_response.ready,
                c.bus.cyc, c.bus.stb, c.bus.ack, c.irq)
            self.bus_cycles += bool(cyc and stb and ack)
            if sa_valid:
                entry = to_python(sa_payload, sa_layout)
                self.sa_offered.append(entry)
                if sa_ready and not refused:
                    self.sa_writes.append(entry)
                    self.sa_table[entry["index"]] = entry
                    self.sa_table_history.append(dict(self.sa_table))
            if spd_valid and spd_ready:
                entry = to_python(spd_payload, spd_layout)
                self.spd_writes.append(entry)
                self.spd_table[entry["index"]] = entry
            if response is not None and resp_ready:
                response = None
            if req_valid and req_ready:
                response = self.sa_counters.get(int(req_payload), {})
            if sending:
                self.events.popleft()


def expected_sa_write(sa, index, update=False):
    """The SA table write for an SA, encoded here from the register map's documentation
    (an update's: no key or salt, the datapath keeps the entry's)."""
    key, salt = sa.key[:-4], sa.key[-4:]
    padded = bytes(32) if update else key.ljust(32, b"\0")
    nat = sa.encap
    return {"index": index, "valid": 1, "update": int(update), "entry": {
        "spi": sa.spi,
        "flags": {"dir": {"in": 0, "out": 1}[sa.dir], "mode": {"tunnel": 0, "transport": 1}[sa.mode],
                  "esn": int(sa.esn), "natt": int(nat is not None), "aes256": int(len(key) == 32),
                  "df": {"copy": 0, "set": 1, "clear": 2}[sa.df], "icv_len": sa.icv_bits // 8, "ttl": sa.ttl},
        "src": int(ipaddress.IPv4Address(sa.src)), "dst": int(ipaddress.IPv4Address(sa.dst)),
        "natt_ports": {"lo": nat.sport if nat else 0, "hi": nat.dport if nat else 0},
        "replay_window": {"size": sa.replay_window},
        "soft_packets": sa.lifetime.soft_packets, "hard_packets": sa.lifetime.hard_packets,
        "soft_bytes": sa.lifetime.soft_bytes, "hard_bytes": sa.lifetime.hard_bytes,
        "key": [int.from_bytes(padded[4 * i:4 * i + 4], "big") for i in range(8)],
        "salt": 0 if update else int.from_bytes(salt, "big"),
        "seq": sa.replay_oseq if sa.dir == "out" else sa.replay_seq,
    }}


def zero_entry(entry):
    if isinstance(entry, dict):
        return {k: zero_entry(v) for k, v in entry.items()}
    if isinstance(entry, list):
        return [zero_entry(v) for v in entry]
    return 0


class CountingCsrBlock(CsrBlock):
    """The CSR block with the global counters' memory stood in for: `counter_values` (in the map's
    order) answer `global_counters` reads in the same cycle, as the datapath's counters do."""

    def __init__(self, regmap):
        super().__init__(regmap)
        self.counter_values = Array(Signal(64, name=f"counter_{name}") for name in COUNTERS)

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.global_counters.value.eq(self.counter_values[self.global_counters.index])
        return m


def bench(seed: int = 0, ready_prob: float = 1.0, vcd: str | None = None, **params):
    """A CSR block of a small configuration (`params` override N_SA=8, N_POLICY=8) in the simulator."""
    csr = CountingCsrBlock(rm.compile(**{"N_SA": 8, "N_POLICY": 8, **params}))
    stub = DatapathStub(csr, seed, ready_prob)
    return AmaranthSimTransport(csr, testbenches=[stub.run], vcd=vcd), stub
