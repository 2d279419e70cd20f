"""`make demo` runs end to end and its captures are what it says."""

from espline.sim import demo
from espline.sim.pcap import read_frames


def test_demo_runs_and_writes_three_captures(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path), "--packets", "20"]) == 0
    assert "demo OK" in capsys.readouterr().out
    wire = [f for f, _ in read_frames(tmp_path / "wire.pcap")]
    lan_b = [f for f, _ in read_frames(tmp_path / "lan-b.pcap")]
    assert sum(f[14 + 9] == 50 for f in wire if f[12:14] == b"\x08\x00") == 40 + 10  # + 5 replays, 5 flips
    assert len(lan_b) == 20 + 20 + 1  # A's packets and ARP arrive; B's own packets were sent from it
