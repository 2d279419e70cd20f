"""`WAVES=1`: a waveform for every failing simulation test, as a pytest plugin (loaded by the
project's pytest options, `-p espline.sim.waves` in pyproject.toml).

With `WAVES=1` in the environment, every Amaranth `Simulator` a test runs writes a VCD
(`Simulator.advance` is wrapped from the test's setup to the end of its call: every `run`,
`run_until` and `advance` goes through it, whichever helper built the simulator; one started by
a fixture of a wider scope is not traced), and every cocotb run through
`espline.sim.toolchain.cocotb_build` records the simulator's own trace (Verilator `dump.vcd`,
Icarus FST; traced builds live next to the plain ones, `<build dir>_waves`). When the test
fails, the waveforms are kept as `build/waves/<test id>[.<n>].vcd|.fst` (`WAVES_DIR` moves the
folder) and their paths are printed with the failure and in the summary; when it passes, they
are deleted. Without `WAVES` nothing is patched, traced or written.
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from .toolchain import BUILD_ROOT

__all__ = ["Recorder", "enabled", "folder", "note_trace", "recording"]


def enabled() -> bool:
    return os.environ.get("WAVES", "") not in ("", "0")


def folder() -> Path:
    return Path(os.environ.get("WAVES_DIR") or BUILD_ROOT / "waves")


def _file_name(test_id: str) -> str:
    """A test id as a file name: `tests/a/test_b.py::test_c[x-1]` -> `tests.a.test_b.test_c[x-1]`."""
    name = test_id.replace(".py::", ".").replace("::", ".").replace("/", ".")
    return re.sub(r"[^\w.\[\]=+-]", "_", name)


class Recorder:
    """The waveforms of one test: Amaranth VCDs written while it runs, simulator traces noted."""

    def __init__(self, test_id: str):
        self.stem, self.paths, self._writers, self._traces = _file_name(test_id), [], [], []

    def _path(self, suffix: str) -> Path:
        n = len(self.paths)
        path = folder() / f"{self.stem}{f'.{n}' if n else ''}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.paths.append(path)
        return path

    def trace(self, sim) -> None:
        path = self._path(".vcd")
        try:
            writer = sim.write_vcd(str(path))
            writer.__enter__()
        except ValueError:  # a simulator that ran before the test (a fixture's): no waveform
            self.paths.remove(path)
            path.unlink(missing_ok=True)
            return
        self._writers.append(writer)

    def note(self, trace: Path) -> None:
        self._traces.append(Path(trace))

    def finish(self, failed: bool) -> list[Path]:
        """Close the VCDs; keep them and copy the simulator traces in if the test failed, else
        delete them. The waveforms kept."""
        for writer in self._writers:
            try:
                writer.__exit__(None, None, None)
            except Exception:  # a simulation that died mid-step: keep what was written
                pass
        self._writers.clear()
        if failed:
            for trace in self._traces:
                if trace.exists():
                    shutil.copyfile(trace, self._path(trace.suffix))
            return [p for p in self.paths if p.exists()]
        for path in self.paths:
            path.unlink(missing_ok=True)
        return []


_current: Recorder | None = None


class recording:
    """While active: every Amaranth simulator that starts writes a VCD for `recorder`."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def __enter__(self):
        from amaranth.sim import Simulator

        global _current
        _current, self._advance = self.recorder, Simulator.advance
        advance, recorder = self._advance, self.recorder

        def traced_advance(sim):
            if not getattr(sim, "_espline_waves", False):
                sim._espline_waves = True
                recorder.trace(sim)
            return advance(sim)

        Simulator.advance = traced_advance
        return self.recorder

    def __exit__(self, *exc):
        from amaranth.sim import Simulator

        global _current
        Simulator.advance, _current = self._advance, None


def note_trace(path) -> None:
    """A simulator trace (cocotb) of the running test, kept if it fails."""
    if _current is not None:
        _current.note(path)


# -- the pytest plugin ------------------------------------------------------------------------

_KEY = pytest.StashKey[recording]()
_kept: list[str] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """Record from the test's setup on (a fixture may start its simulator) to the end of its call."""
    if enabled():
        item.stash[_KEY] = active = recording(Recorder(item.nodeid))
        active.__enter__()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    active = item.stash.get(_KEY, None)
    if active is None or not (call.when == "call" or (call.when == "setup" and not report.passed)):
        return
    del item.stash[_KEY]
    active.__exit__(None, None, None)
    kept = active.recorder.finish(report.failed)
    if kept:
        report.sections.append(("waves", "\n".join(f"waveform: {p}" for p in kept)))


def pytest_runtest_logreport(report):
    for name, text in report.sections:
        if name == "waves":
            _kept.extend(line.removeprefix("waveform: ") for line in text.splitlines())


def pytest_terminal_summary(terminalreporter):
    if _kept:
        terminalreporter.section("waveforms of the failing tests (WAVES=1)")
        for path in _kept:
            terminalreporter.write_line(path)
