"""EthernetPort under cocotb (Icarus) against cocotbext-eth's GMII models, and behind the RGMII
coding with behavioural DDR registers against its RGMII models (espline.sim.ethtb)."""

import shutil
import xml.etree.ElementTree as ET

import pytest

from espline.gateware.eth.port import EthernetPort
from espline.sim.ethernet import RgmiiPort
from espline.sim.toolchain import BUILD_ROOT, cocotb_build, toolchain_env

DUTS = {"gmii": lambda: EthernetPort(4, rx_domain="rx"), "rgmii": lambda: RgmiiPort(4)}


@pytest.mark.parametrize("level", sorted(DUTS))
def test_port_against_cocotbext_eth(level):
    from cocotb_tools.check_results import get_results

    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not on PATH")
    name = f"ethtb_{level}"
    runner, build_dir = cocotb_build("icarus", DUTS[level], name, BUILD_ROOT / f"cocotb_{name}_icarus")
    xml = build_dir / "results.xml"
    xml.unlink(missing_ok=True)
    with toolchain_env("icarus"):
        try:
            runner.test(test_module="espline.sim.ethtb", hdl_toplevel=name, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=build_dir, results_xml=str(xml),
                        extra_env={"ETHTB_LEVEL": level})
        except SystemExit:  # cocotb's runner under pytest exits on a failed test: show why instead
            pass
    tests, failed = get_results(xml)
    messages = [f.get("message", "") for f in ET.parse(xml).iter("failure")]
    assert tests == 1 and failed == 0, f"cocotb failed (log in {build_dir}): {' | '.join(messages)}"
