"""Run the boards' simulation (`espline.sim.boardsim.tb`) and report: `make demo BOARD=...`
(`demo`) and the line-rate bench (`bench`, `python -m espline.sim.bench board`)."""

import json
import subprocess
import time
from pathlib import Path

from . import TOP, build

__all__ = ["demo", "simulate"]


def simulate(board: str, testcase: str, env: dict, tag: str) -> dict | None:
    """Build (or reuse) the model, run cocotb test `testcase` with `env`; its JSON result, or None
    (then the log says why). Adds `build_s` and `simulation_s`, wall seconds."""
    from espline.sim.toolchain import toolchain_env

    t0 = time.monotonic()
    runner, build_dir = build(board)
    t1 = time.monotonic()
    test_dir = build_dir / f"run_{tag}"
    test_dir.mkdir(exist_ok=True)
    result, xml, log = test_dir / "result.json", test_dir / "results.xml", test_dir / "sim.log"
    for p in (result, xml):
        p.unlink(missing_ok=True)
    print(f"simulating (log: {log}) ...", flush=True)
    with toolchain_env("verilator"):
        try:
            runner.test(test_module="espline.sim.boardsim.tb", testcase=testcase, hdl_toplevel=TOP,
                        hdl_toplevel_lang="verilog", build_dir=build_dir, test_dir=test_dir, results_xml=str(xml),
                        extra_env={**env, "BOARDSIM_RESULT": str(result)}, log_file=log)
        except (SystemExit, subprocess.CalledProcessError):  # a failed test: the result says why
            pass
    if not result.exists():
        return None
    r = json.loads(result.read_text())
    r.update(build_s=t1 - t0, simulation_s=time.monotonic() - t1, log=str(log), run_dir=str(test_dir))
    return r


def demo(board: str, out: Path, packets: int, bad_fcs: int = 5, tag: str = "demo") -> int:
    """Two boards back to back (site A and site B), the demo's LAN traffic as frames on the pins."""
    from espline.config import load
    from espline.sim import demo as sitedemo
    from espline.sim import tshark

    print(f"frames produced by: two {board} board tops (gigabit build) in Verilator "
          f"{sitedemo.verilator_version()}, RGMII pins and UART; checked by: reference model")
    r = simulate(board, "two_boards", {"BOARDSIM_OUT": str(out.resolve()), "BOARDSIM_PACKETS": str(packets),
                                       "BOARDSIM_BAD_FCS": str(bad_fcs)}, tag)
    if r is None:
        print("the simulation ended without a result: see its log (named above)\ndemo FAILED")
        return 1
    for s, site in r["sites"].items():
        print(f"\nsite {s} (docs/examples/site-{s.lower()}.toml): counters read over the UART, next to the model's")
        print(f"    {'global':<22}{'hardware':>10}{'model':>10}")
        print("\n".join(sitedemo._counter_table(site["hw_global"], site["model_global"])))
        for port, name in enumerate(("LAN", "WAN")):
            mac = {k: v for k, v in site["mac"][port].items() if v}
            print(f"    {name} MAC (board registers): {mac}")
        print(f"    bad-FCS frames sent on the LAN: {site['bad_fcs_sent']}")
    print(f"\n{r['delivered_ab']}/{packets} A->B and {r['delivered_ba']}/{packets} B->A packets delivered bit-exact "
          f"(with FCS on the pins); IKE from A's host punted to B's host over the UARTs: {r['punted']}")
    if r["errors"]:
        print(f"MISMATCHES ({len(r['errors'])}; frames in {r['run_dir']}/mismatch-*.pcap):\n  "
              + "\n  ".join(r["errors"][:5]))
    else:
        print(f"checked against the reference model: {r['frames_checked']} frames out of the boards' pins bit-exact, "
              f"{r['counters_checked']} counters equal; bad-FCS frames dropped and counted in the MAC counters")
    print(f"captures: {out}/lan-a.pcap {out}/wire.pcap {out}/lan-b.pcap")
    if tshark.available():  # an outside opinion of the wire
        sas = [sa for sa in load(sitedemo.EXAMPLES / "site-a.toml").sas if not sa.esn]  # Wireshark 4.0: no ESN
        decoded = tshark.decode(out / "wire.pcap", sas)
        good = sum(d["esp.icv_good"] == ["1"] for d in decoded)
        print(f"tshark on wire.pcap ({', '.join(f'spi {sa.spi:#x}' for sa in sas)}): {good} ESP frames decrypted "
              f"with a good ICV")
    cycles = r["cycles"]
    print(f"{cycles} clock cycles (programming over the UART {r['program_cycles']}, traffic {r['traffic_cycles']}); "
          f"wall time: build {r['build_s']:.0f} s, simulation {r['simulation_s']:.0f} s "
          f"({cycles / r['wall_s']:.0f} cycles/s in the test)")
    ok = not r["errors"] and r["punted"] and r["delivered_ab"] == r["delivered_ba"] == packets
    print("demo " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1
