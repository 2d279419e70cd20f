"""The bitstream flow's reading of the tools' outputs and its programming step (espline.hw.bitstream);
the builds themselves are measured in docs/boards.md."""

import json

import pytest

from espline.hw import bitstream
from espline.hw.boards import BOARDS


def netlist(path, **cells):
    path.write_text(json.dumps({"modules": {"espline": {"cells": {
        f"c{i}": {"type": kind} for i, kind in enumerate(k for k, n in cells.items() for _ in range(n))}}}}))


def test_summary_bitstream_and_timing(tmp_path):
    netlist(tmp_path / "espline.json", LUT4=100, CCU2C=10, TRELLIS_FF=50, DP16KD=3)
    (tmp_path / "report.json").write_text(json.dumps({
        "fmax": {"pll.clock": {"achieved": 131.24, "constraint": 125.0},
                 "eth_rgmii_0__rx_clk__io": {"achieved": 200.0, "constraint": 125.0}},
        "utilization": {"TRELLIS_SLICE": {"used": 70, "available": 21924}, "DCUA": {"used": 0, "available": 2}}}))
    (tmp_path / "espline.bit").write_bytes(b"")
    s = bitstream._summary(BOARDS["colorlight-i9"], tmp_path)
    assert (s["lut4"], s["lut_sites"], s["ff"], s["ebr"]) == (100, 120, 50, 3)
    assert s["fill"]["ebr"] == round(3 / 108, 3) and s["status"] == "bitstream"
    assert s["clocks"]["pll.clock"] == {"achieved_mhz": 131.2, "constraint_mhz": 125.0}
    assert list(s["placed"]) == ["TRELLIS_SLICE"]

    (tmp_path / "report.json").write_text(json.dumps({"fmax": {"pll.clock": {"achieved": 118.0, "constraint": 125.0}}}))
    assert bitstream._summary(BOARDS["versa"], tmp_path)["status"] == "timing not met"


def test_summary_does_not_fit(tmp_path):
    netlist(tmp_path / "espline.json", LUT4=30000)  # more than an LFE5U-25F's 24288
    s = bitstream._summary(BOARDS["colorlight-5a-75b"], tmp_path)
    assert s["status"] == "does not fit" and s["fill"]["lut4"] == round(30000 / 24288, 3)


def test_steps_are_the_scripts_tool_commands(tmp_path):
    script = tmp_path / "build_espline.sh"
    script.write_text('#!/bin/sh\nset -e\n: ${YOSYS:=yosys}\n"$YOSYS" -q x.ys\n"$ECPPACK" --input a --bit b\n')
    steps = bitstream._steps(script)
    assert [step.splitlines()[-1] for step in steps] == ['"$YOSYS" -q x.ys', '"$ECPPACK" --input a --bit b']
    assert all(step.startswith("#!/bin/sh\nset -e\n: ${YOSYS:=yosys}") for step in steps)


def test_program_says_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENFPGALOADER", "no-such-openfpgaloader")
    with pytest.raises(SystemExit, match="not installed"):
        bitstream.program("versa", str(tmp_path))
    monkeypatch.setenv("OPENFPGALOADER", "true")
    with pytest.raises(SystemExit, match="does not exist"):
        bitstream.program("versa", str(tmp_path))


def test_run_times_each_tool(tmp_path):
    seconds = {}
    assert bitstream._run('#!/bin/sh\n"$YOSYS" 2>/dev/null; true', tmp_path, seconds) is None
    assert bitstream._run('#!/bin/sh\nexit 3\n"$NEXTPNR_ECP5" --json x', tmp_path, seconds) == "NEXTPNR_ECP5 failed (3)"
    assert seconds == {"YOSYS": 0, "NEXTPNR_ECP5": 0}
