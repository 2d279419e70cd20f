"""`python -m espline.sim.bench [NAME ...] [OPTIONS]`: names choose benchmarks, options reach them."""

from espline.sim.bench.__main__ import main


def test_options_reach_the_named_benchmark(capsys):
    assert main(["gcm", "--config", "compact", "--packets", "2"]) == 0
    out = capsys.readouterr().out
    assert "gcm compact" in out and "gcm wide" not in out
    assert "10.00 cycles per AES block" in out  # AES-128: one round per cycle, Nr = 10


def test_unknown_benchmark_is_refused_before_any_runs(capsys):
    assert main(["gcm", "nope"]) == 2
    captured = capsys.readouterr()
    assert "unknown benchmark 'nope'" in captured.err and captured.out == ""
