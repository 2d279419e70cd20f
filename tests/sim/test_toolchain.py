"""Simulator toolchain glue (espline.sim.toolchain)."""

from espline.sim.toolchain import settle_constants


def test_constant_always_blocks_also_get_their_value_at_time_0():
    """An ``always @*`` that reads nothing never runs (IEEE 1364 §9.7.5, Verilator ALWNEVER)."""
    text = ("  always @*\n    job__payload[369] = 1'h1;\n"
            "  always @*\n    counts[14:10] = 5'h00;\n"
            "  always @*\n    x = a;\n"
            "  always @* begin\n    y = 4'h0;\n    if (s) y = b;\n  end\n")
    out = settle_constants(text)
    assert out == text.replace("1'h1;\n", "1'h1;\n  initial job__payload[369] = 1'h1;\n", 1).replace(
        "5'h00;\n", "5'h00;\n  initial counts[14:10] = 5'h00;\n", 1)
