"""Run the appliance bench outside pytest: ``python -m espline.sim.apptb --frames 100000 --seed 7``.

Builds `espline.gateware.appliance.Appliance` once per simulator and configuration (cached under
build/cocotb_apptb_appliance_<config>_<simulator>, shared with tests/gateware/test_appliance_cocotb.py),
runs ``espline.sim.apptb.bench.appliance_random`` and prints its figures as JSON.
"""

import argparse
import json
import sys

from cocotb_tools.check_results import get_results

from espline.sim.toolchain import BUILD_ROOT, cocotb_build, toolchain_env

from .traffic import MIXES, gateware


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m espline.sim.apptb", description=__doc__.splitlines()[0])
    ap.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--config", default="wide", help="wide, compact (the GCM engine), or a named build: gigabit")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--mix", choices=sorted(MIXES), default="default")
    ap.add_argument("--valid-prob", type=float, default=0.8)
    ap.add_argument("--ready-prob", type=float, default=0.8)
    ap.add_argument("--inputs", default="plain_i,cipher_i,host_i", help="inputs to drive (comma-separated)")
    ap.add_argument("--tag", default="cli", help="run folder name under the build folder")
    args = ap.parse_args(argv)

    name = f"apptb_appliance_{args.config}"
    runner, build_dir = cocotb_build(args.simulator, lambda: gateware(args.config), name,
                                     BUILD_ROOT / f"cocotb_{name}_{args.simulator}")
    test_dir = build_dir / f"run_{args.tag}"
    test_dir.mkdir(exist_ok=True)
    result = test_dir / "result.json"
    result.unlink(missing_ok=True)
    env = {"APPTB_SEED": args.seed, "APPTB_FRAMES": args.frames, "APPTB_MIX": args.mix,
           "APPTB_VALID_PROB": args.valid_prob, "APPTB_READY_PROB": args.ready_prob,
           "APPTB_INPUTS": args.inputs, "APPTB_RESULT": result, "APPTB_CONFIG": args.config}
    with toolchain_env(args.simulator):
        xml = runner.test(test_module="espline.sim.apptb.bench", hdl_toplevel=name, hdl_toplevel_lang="verilog",
                          build_dir=build_dir, test_dir=test_dir, results_xml=str(test_dir / "results.xml"),
                          extra_env={k: str(v) for k, v in env.items()})
    tests, failed = get_results(xml)
    if failed or not result.exists():
        print(f"appliance_random FAILED (log and results.xml in {test_dir})", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(result.read_text()), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
