"""`WAVES=1` (espline.sim.waves): a failing simulation test leaves its waveform and says where;
a passing one leaves nothing; without WAVES nothing is written."""

import os
import shutil
import subprocess
import sys
import textwrap

import pytest

TEST = textwrap.dedent('''
    from amaranth.hdl import Module, Signal
    from espline.sim.packetbus import simulate

    def design():
        m = Module()
        m.count = Signal(4)
        m.d.sync += m.count.eq(m.count + 1)
        return m

    def run(expect):
        m = design()

        async def bench(ctx):
            await ctx.tick().repeat(3)
            assert ctx.get(m.count) == expect

        simulate(m, bench)

    def test_fails():
        run(4)

    def test_passes():
        run(3)
''')


def pytest_run(tmp_path, **env):
    (tmp_path / "test_tiny.py").write_text(TEST)
    env = {**{k: v for k, v in os.environ.items() if k != "WAVES"}, "WAVES_DIR": str(tmp_path / "waves"), **env}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "espline.sim.waves", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path)], env=env, capture_output=True, text=True,
                          cwd=tmp_path)


def test_a_failing_simulation_leaves_a_vcd_and_prints_its_path(tmp_path):
    r = pytest_run(tmp_path, WAVES="1")
    assert "1 failed, 1 passed" in r.stdout, r.stdout + r.stderr
    files = sorted((tmp_path / "waves").iterdir())
    assert [f.name for f in files] == ["test_tiny.test_fails.vcd"]
    assert f"waveform: {files[0]}" in r.stdout
    assert "$var" in files[0].read_text() and "count" in files[0].read_text()


def test_without_waves_nothing_is_written(tmp_path):
    r = pytest_run(tmp_path)
    assert "1 failed, 1 passed" in r.stdout, r.stdout + r.stderr
    assert not (tmp_path / "waves").exists() and "waveform" not in r.stdout


def test_a_cocotb_runs_trace_is_noted_and_kept_only_on_failure(tmp_path, monkeypatch):
    """The runner `cocotb_build` returns under WAVES=1 asks for a trace and names it; the
    recorder copies it into the waves folder when the test fails."""
    from espline.sim import toolchain, waves

    monkeypatch.setenv("WAVES_DIR", str(tmp_path / "waves"))
    calls = []

    def test(**kwargs):
        calls.append(kwargs)
        (tmp_path / "run" / "dump.vcd").write_text("$enddefinitions $end\n")

    (tmp_path / "run").mkdir()
    for failed in (False, True):
        recorder = waves.Recorder(f"tests/x.py::test_{failed}")
        with waves.recording(recorder):
            toolchain._noting_traces(test, "verilator", tmp_path, "top")(test_module="m", test_dir=tmp_path / "run")
        kept = recorder.finish(failed)
        assert calls[-1]["waves"] is True
        assert kept == ([tmp_path / "waves" / "tests.x.test_True.vcd"] if failed else [])
    assert [p.name for p in (tmp_path / "waves").iterdir()] == ["tests.x.test_True.vcd"]


COCOTB_TEST = textwrap.dedent('''
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import Out

    from espline.sim.toolchain import cocotb_build, toolchain_env


    class Counter(wiring.Component):
        count: Out(8)

        def elaborate(self, platform):
            m = Module()
            m.d.sync += self.count.eq(self.count + 1)
            return m


    def test_cocotb_fails(tmp_path):
        from cocotb_tools.check_results import get_results

        runner, build_dir = cocotb_build("icarus", Counter, "waves_counter", tmp_path / "build")
        xml = tmp_path / "results.xml"
        with toolchain_env("icarus"):
            try:
                runner.test(test_module="cocotb_counter", hdl_toplevel="waves_counter", hdl_toplevel_lang="verilog",
                            build_dir=build_dir, test_dir=tmp_path / "run", results_xml=str(xml))
            except SystemExit:
                pass
        assert get_results(xml) == (1, 0)
''')

COCOTB_MODULE = textwrap.dedent('''
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles


    @cocotb.test()
    async def counts(dut):
        cocotb.start_soon(Clock(dut.clk, 10, "ns").start())
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 5)
        assert int(dut.count.value) == 99, "deliberately failing"
''')


def test_a_failing_cocotb_run_leaves_its_trace(tmp_path):
    """Icarus through `cocotb_build` end to end: the traced build, the failing run's FST copied
    into the waves folder, its path printed."""
    if shutil.which("iverilog") is None:
        pytest.skip("iverilog not on PATH")
    (tmp_path / "test_cocotb_tiny.py").write_text(COCOTB_TEST)
    (tmp_path / "cocotb_counter.py").write_text(COCOTB_MODULE)
    env = {**os.environ, "WAVES": "1", "WAVES_DIR": str(tmp_path / "waves"),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "espline.sim.waves", "-p", "no:cacheprovider",
                        "--rootdir", str(tmp_path), str(tmp_path / "test_cocotb_tiny.py")], env=env,
                       capture_output=True, text=True, cwd=tmp_path)
    assert "1 failed" in r.stdout, r.stdout + r.stderr
    files = sorted((tmp_path / "waves").iterdir())
    assert [f.name for f in files] == ["test_cocotb_tiny.test_cocotb_fails.fst"]
    assert files[0].stat().st_size > 0 and f"waveform: {files[0]}" in r.stdout
