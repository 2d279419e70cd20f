"""The path ranking model (espline.hw.paths) on small hand-made netlists, its delays worked by hand."""

import json

import pytest

from espline.hw.paths import Netlist, block_of, by_block, main


def _cell(kind, inputs, outputs):
    connections = {**inputs, **outputs}
    directions = {**{p: "input" for p in inputs}, **{p: "output" for p in outputs}}
    return {"type": kind, "connections": connections, "port_directions": directions, "attributes": {}}


def _write(tmp_path, cells, nets):
    module = {"attributes": {"top": "00000000000000000000000000000001"}, "cells": cells,
              "netnames": {name: {"bits": [bit], "hide_name": 0} for name, bit in nets.items()}}
    path = tmp_path / "netlist.json"
    path.write_text(json.dumps({"modules": {"lib": {"attributes": {}, "cells": {}, "netnames": {}}, "top": module}}))
    return path


@pytest.fixture
def netlist(tmp_path):
    """a.q -> LUT -> LUT -> b.d; a.q -> 2-step carry chain -> c.d; ram (block RAM) -> LUT -> c.ce."""
    cells = {
        "top.a": _cell("TRELLIS_FF", {"CLK": [1], "DI": [9]}, {"Q": [2]}),
        "top.x.lut1": _cell("LUT4", {"A": [2], "B": ["0"]}, {"Z": [3]}),
        "top.x.lut2": _cell("LUT4", {"A": [3]}, {"Z": [4]}),
        "top.b": _cell("TRELLIS_FF", {"CLK": [1], "DI": [4]}, {"Q": [5]}),
        "top.y.carry0": _cell("CCU2C", {"A0": [2], "CIN": ["0"]}, {"COUT": [6], "S0": [10]}),
        "top.y.carry1": _cell("CCU2C", {"A0": [5], "CIN": [6]}, {"S1": [7]}),
        "top.ram": _cell("DP16KD", {"CLKA": [1], "ADA0": [5]}, {"DOA0": [8]}),
        "top.z.lut": _cell("LUT4", {"A": [8], "B": [7]}, {"Z": [11]}),
        "top.c": _cell("TRELLIS_FF", {"CLK": [1], "DI": [7], "CE": [11]}, {"Q": [9]}),
    }
    nets = {"clk": 1, "a": 2, "n3": 3, "n4": 4, "b": 5, "cout": 6, "sum": 7, "ram_out": 8, "c": 9, "s0": 10, "ce": 11}
    return _write(tmp_path, cells, nets)


def test_arrivals_worked_by_hand(netlist):
    ends = {(end.cell, end.pin): end for end in Netlist(netlist).ends()}
    # flip-flop 0.5, a hop 1, a LUT 0.45, a hop 1, a LUT 0.45, the hop into b 1
    assert ends["top.b", "DI"].ns == pytest.approx(0.5 + 1 + 0.45 + 1 + 0.45 + 1)
    # a.q 0.5, hop 1, carry0 A0 -> COUT 0.55, no hop, CIN -> S1 0.3, hop 1 (b.q's way into A0 is shorter)
    assert ends["top.c", "DI"].ns == pytest.approx(0.5 + 1 + 0.55 + 0.3 + 1)
    # the block RAM's output 5.8, a hop, a LUT, the hop into CE
    assert ends["top.c", "CE"].ns == pytest.approx(5.8 + 1 + 0.45 + 1)
    assert [net for _, net in ends["top.c", "CE"].nets] == ["ram_out", "ce"]
    assert ("top.c", "CLK") not in ends and ("top.z.lut", "A") not in ends  # not endpoints


def test_carry_in_is_local(netlist):
    """The carry chain's CIN adds no routing hop: a.q through carry0's COUT into carry1's sum."""
    model = Netlist(netlist, route_ns=2.0)
    model.ends()
    assert model._arrival[6][0] == pytest.approx(0.5 + 2 + 0.55)  # carry0.COUT, one hop from a
    assert model._arrival[7][0] == pytest.approx(max(0.5 + 2 + 0.55 + 0.3, 0.5 + 2 + 0.5))


def test_ends_sorted_and_blocks(netlist):
    ends = Netlist(netlist).ends()
    assert [e.ns for e in ends] == sorted((e.ns for e in ends), reverse=True)
    assert block_of("appliance.inbound.decap.trailer.prev_seq_0_LUT4_C_Z") == "appliance.inbound.decap.trailer"
    assert block_of("appliance.csr.regs$3.x") == "appliance.csr"
    rows = {block: (end.ns, late) for block, end, late in by_block(ends, over_ns=5.0)}
    assert rows["top.c"] == (pytest.approx(8.25), 1) and rows["top.b"][1] == 0


def test_combinational_loop_terminates(tmp_path):
    cells = {"l1": _cell("LUT4", {"A": [3]}, {"Z": [2]}), "l2": _cell("LUT4", {"A": [2]}, {"Z": [3]}),
             "f": _cell("TRELLIS_FF", {"DI": [3]}, {"Q": [4]})}
    ends = Netlist(_write(tmp_path, cells, {"x": 2, "y": 3, "q": 4})).ends()
    assert len(ends) == 1 and ends[0].ns > 0


def test_command_line(netlist, capsys):
    assert main([str(netlist)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 endpoints, 1 later than 8.0 ns") and "top.c" in out
    assert main([str(netlist), "--into", "top.b"]) == 0
    assert "n4" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([str(netlist), "--into", "nothing"])
