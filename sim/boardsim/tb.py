"""cocotb module: boards in simulation (`espline.sim.boardsim`), frames on the RGMII pins, the host
on the UART pins.

`two_boards` (`make demo BOARD=...`): site A and site B back to back (`wan_link`), programmed
from docs/examples/site-{a,b}.toml by the host driver over each board's UART bridge
(`UartTransport` on `SerialPins`); LAN traffic both ways at once as frames with FCS from
cocotbext-eth's `RgmiiSource` on each LAN, with frames of a bad FCS among them; IKE from site A's
host through the bridge's host port, polled at site B's. Every frame out of a LAN port and onto
the wire (`RgmiiSink`s on the pins: preamble, SFD and FCS checked) must be the reference
model's, bit-exact (one `Scoreboard` per site, the wire's frames fed to site B's as they pass);
at the end every counter read over the UART must equal the model's, and the MAC counters in the
board registers must count the bad-FCS frames dropped. `line_rate` (`make bench`): board A
alone, both ports fed back to back at line rate in both directions at once, per packet mix.

Environment: ``BOARDSIM_OUT`` (pcaps), ``BOARDSIM_PACKETS`` (each way), ``BOARDSIM_BAD_FCS``
(bad frames on each LAN), ``BOARDSIM_RESULT`` (JSON), ``BOARDSIM_MIXES`` and
``BOARDSIM_FRAMES`` (the bench's mixes and frames per mix and port, `mix:frames,...`).
"""

import json
import logging
import os
import random
import time
from functools import partial
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, Timer
from cocotb.utils import get_sim_time
from cocotbext.eth import GmiiFrame, RgmiiSink, RgmiiSource

from espline.config import load
from espline.gateware.eth.port import COUNTERS
from espline.host.driver import Espline
from espline.host.transport.uart import UartTransport
from espline.hw.board_registers import BOARD_BASE, counter_address
from espline.sim import demo
from espline.sim.apptb.scoreboard import Mismatch, Scoreboard
from espline.sim.ethernet import fcs, padded
from espline.sim.model import Appliance, Port
from espline.sim.model.accounting import frames_accounted
from espline.sim.pcap import PcapWriter

from . import DIVISOR
from .uart import SerialPins, SimSerial

PERIOD_NS = 8  # 125 MHz
PHY_DELAY_NS = 2  # the receive clocks: the transmit clock this much later (RGMII v2.0's clock delay)
EPOCH = 1_700_000_000.0
LARGEST = 1400  # IPv4 packets of the demo at most this long: tunnelled, they fit the gigabit build's MTU 1500
#: The demo's hosts leave this many bytes more than the 12 of the interpacket gap between their frames: room for
#: what the tunnel adds (at most 57 bytes: outer IPv4 header, ESP header and IV, padding and trailer, ICV),
#: so that each site's ESP fits its WAN's line rate (`make bench` shows the full line rate: docs/boards.md)
ESP_ROOM = 64
#: The LANs' receive clocks in the demo: 125 ppm slow at site A, 125 ppm fast at site B (IEEE 802.3
#: clause 40.6.1.2.4 allows each end 100 ppm: these are two ends' worst), so that each MAC's
#: receive side crosses to `sync` at a drifting phase, as between two boards' oscillators
LAN_PS = {"a": 8001, "b": 7999}


class Board:
    """One board's pins under its prefix (`a_`, `b_`): the LAN's RGMII source and sink, the wire
    monitor on its WAN transmit pins, the host's driver over its UART."""

    def __init__(self, dut, site: str):
        self.dut, self.site, p = dut, site, site.lower() + "_"
        self.pin = lambda name: getattr(dut, p + name)
        self.lan_in = RgmiiSource(self.pin("eth0_rx_data"), self.pin("eth0_rx_ctl"), self.pin("eth0_rx_clk"))
        # the LAN's transmit pins are read on the WAN's receive clock: `clk` 2 ns late (the LAN's
        # receive clock may be another oscillator's)
        self.lan_out = RgmiiSink(self.pin("eth0_tx_data"), self.pin("eth0_tx_ctl"), self.pin("eth1_rx_clk"))
        self.wan_out = RgmiiSink(self.pin("eth1_tx_data"), self.pin("eth1_tx_ctl"), self.pin("eth1_rx_clk"))
        for model in (self.lan_in, self.lan_out, self.wan_out):
            model.log.setLevel(logging.WARNING)  # not a line per frame
        self.serial = SerialPins(self.pin("uart_rx"), self.pin("uart_tx"), DIVISOR * PERIOD_NS)
        self.uart = None
        self.driver = None

    async def connect(self) -> None:
        """The host's driver over the UART (run in a bridge thread: it blocks)."""
        self.uart = UartTransport(SimSerial(self.serial))
        self.driver = await bridge(Espline)(self.uart, scan=False)

    async def host(self, fn, *args):
        return await bridge(fn)(*args)

    async def mac_counters(self) -> list[dict]:
        """Both ports' MAC counters from the board registers."""
        def read():
            return [{name: self.uart.read(counter_address(port, name)) for name in COUNTERS}
                    for port in (0, 1)]
        return await self.host(read)


def frame_from_sink(frame, where: str) -> bytes:
    """The frame a `RgmiiSink` got, without preamble, SFD and FCS, after checking them."""
    pre = frame.get_preamble_len()
    if bytes(frame.data[:pre]) != bytes([0x55] * (pre - 1) + [0xD5]) or any(frame.error or ()):
        raise AssertionError(f"{where}: a frame with a bad preamble/SFD or rx_er")
    if not frame.check_fcs():
        raise AssertionError(f"{where}: a frame with a bad FCS")
    return bytes(frame.get_payload())


async def start(dut, wan_link: bool, lan_ps: dict | None = None) -> None:
    """Clocks and reset; every receive clock 2 ns after `clk`, the LANs' at `lan_ps` (site: period
    in ps) if given: their PHYs' receive clocks come from the far end's oscillator."""
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.wan_link.value = int(wan_link)
    dut.rst.value = 1
    for site in "ab":
        getattr(dut, f"{site}_uart_rx").value = 1
        getattr(dut, f"{site}_eth1_rx_ctl").value = 0
        getattr(dut, f"{site}_eth1_rx_data").value = 0
    await Timer(PHY_DELAY_NS, unit="ns")
    for site in "ab":
        Clock(getattr(dut, f"{site}_eth1_rx_clk"), PERIOD_NS, unit="ns").start()
        period = (lan_ps or {}).get(site, 1000 * PERIOD_NS)
        Clock(getattr(dut, f"{site}_eth0_rx_clk"), period, unit="ps", period_high=period // 2).start()
    await ClockCycles(dut.clk, 10)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 10)


def bad_fcs_frame(frame: bytes) -> GmiiFrame:
    data = padded(frame)
    return GmiiFrame.from_raw_payload(data + bytes(b ^ 0xFF for b in fcs(data)))


@cocotb.test()
async def two_boards(dut):
    wall0 = time.monotonic()
    packets = int(os.environ.get("BOARDSIM_PACKETS", 50))
    bad = int(os.environ.get("BOARDSIM_BAD_FCS", 5))
    out = Path(os.environ.get("BOARDSIM_OUT", "."))
    await start(dut, wan_link=True, lan_ps=LAN_PS)
    sites = {s: Board(dut, s) for s in "AB"}
    other = {"A": "B", "B": "A"}
    configs = {s: load(demo.EXAMPLES / f"site-{s.lower()}.toml") for s in "AB"}
    for s in "AB":
        await sites[s].connect()
    ids = [await sites[s].host(sites[s].uart.read, BOARD_BASE) for s in "AB"]
    assert ids == [int.from_bytes(b"ESPB", "big")] * 2, f"board ID registers read {ids}"
    for s in "AB":
        await sites[s].host(sites[s].driver.load, configs[s].sas, configs[s].policies)
    program_ns = get_sim_time("ns")
    dut._log.info("both boards programmed over the UART: %d cycles", program_ns // PERIOD_NS)

    boards = {s: Scoreboard(Appliance.from_config(configs[s]), dump=f"mismatch-{s.lower()}", pad=60) for s in "AB"}
    errors: list[str] = []
    links = {name: PcapWriter(out / f"{name}.pcap") for name in ("lan-a", "wire", "lan-b")}
    lan = {"A": links["lan-a"], "B": links["lan-b"]}
    delivered = {"A": [], "B": []}

    def now() -> float:
        return EPOCH + get_sim_time("ns") * 1e-9

    def check(site, port, frame):
        try:
            boards[site].receive(port, frame)
        except Mismatch as e:
            errors.append(f"site {site}: {e}")

    async def watch_lan(s):
        while True:
            frame = frame_from_sink(await sites[s].lan_out.recv(), f"LAN {s}")
            lan[s].write(frame, now())
            delivered[s].append(frame)
            check(s, "plain_o", frame)

    async def watch_wire(s):  # site s's WAN transmit pins, into the other site
        while True:
            frame = frame_from_sink(await sites[s].wan_out.recv(), f"wire from {s}")
            links["wire"].write(frame, now())
            check(s, "cipher_o", frame)
            boards[other[s]].feed("cipher_i", frame)

    for s in "AB":
        cocotb.start_soon(watch_lan(s))
        cocotb.start_soon(watch_wire(s))
        sites[s].lan_in.ifg = 12 + ESP_ROOM

    rng = random.Random(2026)
    traffic = dict(zip("AB", demo.lan_traffic(packets, rng, largest=LARGEST), strict=True))
    sent_bad = {"A": 0, "B": 0}
    t0 = get_sim_time("ns")
    for s in "AB":
        bad_at = set(rng.sample(range(packets), min(bad, packets)))
        for k, frame in enumerate(traffic[s]):
            if k in bad_at:
                await sites[s].lan_in.send(bad_fcs_frame(frame))
                sent_bad[s] += 1
            boards[s].feed("plain_i", padded(frame))
            lan[s].write(frame, now())
            await sites[s].lan_in.send(GmiiFrame.from_payload(frame))

    async def drained(limit_ns: float) -> bool:
        deadline = get_sim_time("ns") + limit_ns
        while any(b.pending for b in boards.values()) or any(not sites[s].lan_in.empty() for s in "AB"):
            if get_sim_time("ns") > deadline:
                errors.append("frames still expected after the traffic: " +
                              "; ".join(f"site {s}: {b.missing()}" for s, b in boards.items() if b.pending))
                return False
            await ClockCycles(dut.clk, 256)
        return True

    ok = await drained(packets * 2 * 1600 * PERIOD_NS + 1e6)
    traffic_cycles = (get_sim_time("ns") - t0) // PERIOD_NS

    # IKE from site A's host, through the bridge's host port, punted at site B and polled by its host
    ike = demo.ike_frame()
    punted = None
    if ok:
        boards["A"].feed("host_i", ike)
        await sites["A"].host(sites["A"].uart.send_frame, ike)
        for _ in range(20):
            punted = await sites["B"].host(sites["B"].uart.receive_frame)
            if punted is not None:
                check("B", "host_o", punted)
                break
        ok = await drained(1e6)
    await ClockCycles(dut.clk, 2000)
    for link in links.values():
        link.__exit__()

    report, counters_checked = {}, 0
    for s, board in boards.items():
        d = sites[s].driver
        if ok:
            try:
                board.check_drained()
            except Mismatch as e:
                errors.append(f"site {s}: {e}")

        def read(d=d, board=board):
            sa = {(x.dir, x.spi): vars(d.sa_counters(d.sa_index(x.dir, x.spi))) for x in board.model.sad}
            return d.global_counters(), sa

        hw_global, hw_sa = await sites[s].host(read)
        try:
            board.check_counters(hw_global, hw_sa)
        except Mismatch as e:
            errors.append(f"site {s}: {e}")
        mac = await sites[s].mac_counters()
        want = {"rx_frames": packets, "rx_bad_fcs": sent_bad[s], "tx_frames": len(delivered[s])}
        got = {k: mac[0][k] for k in want}
        if got != want:
            errors.append(f"site {s}: LAN MAC counters {got}, expected {want}")
        others = {k: v for k, v in mac[0].items() if k not in want and v}
        if others:
            errors.append(f"site {s}: LAN MAC counted {others}")
        counters_checked += len(board.model.counters.as_dict()) + sum(
            len(v) for v in board.expected_sa_counters().values())
        report[s] = {"hw_global": hw_global, "model_global": board.model.counters.as_dict(), "mac": mac,
                     "bad_fcs_sent": sent_bad[s], "accounted": frames_accounted(hw_global)}

    result = {
        "packets": packets, "errors": errors, "sites": report,
        "frames_checked": sum(sum(b.received.values()) for b in boards.values()),
        "counters_checked": counters_checked,
        "delivered_ab": sum(x == padded(y) for x, y in zip(delivered["B"], traffic["A"], strict=False)),
        "delivered_ba": sum(x == padded(y) for x, y in zip(delivered["A"], traffic["B"], strict=False)),
        "punted": punted == padded(ike),  # the wire pads it to 60 bytes
        "program_cycles": int(program_ns // PERIOD_NS), "traffic_cycles": int(traffic_cycles),
        "cycles": int(get_sim_time("ns") // PERIOD_NS), "wall_s": time.monotonic() - wall0,
    }
    dut._log.info("%s", json.dumps(result))
    if os.environ.get("BOARDSIM_RESULT"):
        Path(os.environ["BOARDSIM_RESULT"]).write_text(json.dumps(result, indent=1))
    assert not errors, "; ".join(errors[:5])
    assert result["punted"], "the IKE frame did not reach site B's host"


#: The bench's packet mixes (IPv4 total lengths), as `espline.sim.bench.appliance` has them; the
#: largest is cut to the build's MTU less 60 bytes, so that every packet is protected.
MIXES = {"64": [64], "576": [576], "1500": [1500], "imix": [64] * 7 + [576] * 4 + [1500]}
WIRE_EXTRA = 24  # preamble + SFD, FCS, interpacket gap: bytes a frame takes on the wire beyond its own


def stamp(times: list, frame: GmiiFrame) -> None:
    """A source's frame has been sent: note its (start, end) in ns."""
    times.append((frame.sim_time_start, frame.sim_time_end))


def wire_bytes(frame: bytes) -> int:
    return len(padded(frame)) + WIRE_EXTRA


@cocotb.test()
async def line_rate(dut):
    """Board A alone: LAN and WAN inputs back to back at 1 Gb/s (12-byte gaps) at once, per mix;
    frames in and out per second and the drops by reason (MAC and appliance counters, read over
    the UART before and after each mix). With ``BOARDSIM_PACED``, the LAN's gaps are widened so
    that its encapsulated frames fit the WAN's line rate."""
    from espline.gateware.builds import GIGABIT
    from espline.sim.traffic import ethernet, ip_packet

    wall0 = time.monotonic()
    paced = bool(int(os.environ.get("BOARDSIM_PACED", "0")))
    plan = [(m.split(":")[0], int(m.split(":")[1])) for m in
            os.environ.get("BOARDSIM_MIXES", "64:100,576:40,1500:20,imix:48").split(",")]
    await start(dut, wan_link=False)
    a = Board(dut, "A")
    wan_in = RgmiiSource(dut.a_eth1_rx_data, dut.a_eth1_rx_ctl, dut.a_eth1_rx_clk)
    wan_in.log.setLevel(logging.WARNING)
    config, peer_config = (load(demo.EXAMPLES / f"site-{s}.toml") for s in "ab")
    await a.connect()
    await a.host(a.driver.load, config.sas, config.policies)
    peer = Appliance.from_config(peer_config)  # site B: the ESP that arrives on the WAN
    checker = Appliance.from_config(peer_config)  # site B's inbound SA: decrypts what A sends
    rows, errors = [], []
    got = {"lan": [], "wan": []}

    async def watch(sink, name):
        while True:
            frame = await sink.recv()
            got[name].append((frame_from_sink(frame, name), frame.sim_time_start, frame.sim_time_end))

    cocotb.start_soon(watch(a.lan_out, "lan"))
    cocotb.start_soon(watch(a.wan_out, "wan"))

    async def counters():
        def read():
            return a.driver.global_counters()
        return await a.mac_counters(), await a.host(read)

    seed = 0
    for mix, count in plan:
        sizes = [min(size, GIGABIT.mtu - 60) for size in MIXES[mix]]
        lan = [ethernet(ip_packet(sizes[k % len(sizes)], demo.HOST_A, demo.HOST_B, seed=seed + k))
               for k in range(count)]
        plain_b = [ethernet(ip_packet(sizes[k % len(sizes)], demo.HOST_B, demo.HOST_A, seed=seed + count + k))
                   for k in range(count)]
        seed += 2 * count
        wan = [peer.process(Port.PLAIN, f).frame for f in plain_b]
        before = await counters()
        for name in got:
            got[name].clear()
        # paced: the LAN's gap grows by the encapsulation's growth of the mix's largest frame on the wire
        lan_in_gap = 12
        if paced:
            probe = Appliance.from_config(config)
            lan_in_gap += max(wire_bytes(probe.process(Port.PLAIN, f).frame) - wire_bytes(f) for f in lan[:len(sizes)])
        a.lan_in.ifg = lan_in_gap
        sent = {"lan": [], "wan": []}  # (start, end) in ns of each frame sent, as the source saw it
        for name, source, frames in (("lan", a.lan_in, lan), ("wan", wan_in, wan)):
            for frame in frames:
                await source.send(GmiiFrame.from_payload(frame, tx_complete=partial(stamp, sent[name])))
        while not (a.lan_in.empty() and wan_in.empty() and a.lan_in.idle() and wan_in.idle()):
            await ClockCycles(dut.clk, 256)
        quiet, seen = 0, -1
        while quiet < 4:  # until nothing has come out for 4 x 2048 cycles
            await ClockCycles(dut.clk, 2048)
            n = len(got["lan"]) + len(got["wan"])
            quiet, seen = (quiet + 1, n) if n == seen else (0, n)
        after = await counters()

        # check: the LAN's output is B's plaintext in order, with gaps where frames were dropped; the
        # WAN's decrypts (site B's model) to A's LAN frames, likewise
        def subsequence(out, expected, what, mix=mix):
            k = 0
            for frame in out:
                while k < len(expected) and expected[k] != frame:
                    k += 1
                if k == len(expected):
                    errors.append(f"{mix}: {what}: a frame out of order or not expected")
                    return
                k += 1
        subsequence([f for f, _, _ in got["lan"]], [padded(f) for f in plain_b], "LAN output")
        opened = []
        for f, _, _ in got["wan"]:
            v = checker.process(Port.CIPHER, f)
            opened.append(padded(v.frame) if v.port is Port.PLAIN else None)
        subsequence(opened, [padded(f) for f in lan], "WAN output, decrypted by site B's model")

        def rate(times):
            """Frames per second over (start, end) times in ps (cocotbext-eth's, the simulator's
            steps), from the first frame's start to the last one's end; and that span in s."""
            span = (times[-1][1] - times[0][0]) * 1e-12 if len(times) > 1 else 0
            return (len(times) / span if span else 0), span

        row = {"mix": mix, "frames": count, "paced": paced, "lan_gap": lan_in_gap, "sizes": sizes}
        for name, out_name in (("lan", "wan"), ("wan", "lan")):  # input port, the port its frames leave by
            outs = [(s, e) for _, s, e in got[out_name]]
            in_fps, in_span = rate(sent[name])
            out_fps, out_span = rate(outs)
            row[name] = {"in": count, "out": len(got[out_name]), "in_fps": round(in_fps), "out_fps": round(out_fps),
                         "in_seconds": in_span, "out_seconds": out_span,
                         # the output line's use: its frames' wire bytes (with the last one's gap) over the span
                         "out_wire_use": round(sum(wire_bytes(f) for f, _, _ in got[out_name]) * 8 / 1e9 / out_span, 3)
                         if out_span else 0}
        mac_before, glob_before = before
        mac_after, glob_after = after
        row["mac_drops"] = {f"{port}.{k}": mac_after[i][k] - mac_before[i][k]
                            for i, port in enumerate(("lan", "wan")) for k in COUNTERS
                            if k not in ("rx_frames", "tx_frames") and mac_after[i][k] != mac_before[i][k]}
        row["appliance_drops"] = {k: glob_after[k] - glob_before.get(k, 0) for k in glob_after
                                  if k.startswith("drop") and glob_after[k] != glob_before.get(k, 0)}
        row["cycles"] = int((max(e for _, _, e in got["lan"] + got["wan"]) - sent["lan"][0][0]) // (PERIOD_NS * 1000)) \
            if got["lan"] or got["wan"] else 0
        rows.append(row)
        dut._log.info("%s", json.dumps(row))

    result = {"rows": rows, "errors": errors, "cycles": int(get_sim_time("ns") // PERIOD_NS),
              "wall_s": time.monotonic() - wall0}
    if os.environ.get("BOARDSIM_RESULT"):
        Path(os.environ["BOARDSIM_RESULT"]).write_text(json.dumps(result, indent=1))
    assert not errors, "; ".join(errors[:5])
