"""`WAVES=1` (espline.sim.waves): a failing simulation test leaves its waveform and says where;
a passing one leaves nothing; without WAVES nothing is written."""

import os
import subprocess
import sys
import textwrap

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
