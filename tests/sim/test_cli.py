"""`espline model encap|decap` on pcap files."""

import json
import subprocess
import sys
from pathlib import Path

from espline.sim.pcap import read_frames, write_frames
from espline.sim.traffic import ethernet, ip_packet

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def espline(*args):
    return subprocess.run([sys.executable, "-m", "espline.sim.cli", *map(str, args)], capture_output=True, text=True)


def test_encap_then_decap_restores_the_capture(tmp_path):
    lan = [ethernet(ip_packet(size, "10.1.0.5", "10.2.0.9", seed=size)) for size in (28, 64, 576, 1500)]
    lan.append(ethernet(ip_packet(64, "10.1.0.5", "10.9.0.1")))  # no policy: discarded
    write_frames(tmp_path / "lan-a.pcap", lan)
    enc = espline("model", "encap", "--config", EXAMPLES / "site-a.toml", tmp_path / "lan-a.pcap",
                  tmp_path / "wire.pcap")
    assert enc.returncode == 0, enc.stderr
    assert "tx_cipher=4" in enc.stdout and "drop_policy=1" in enc.stdout
    wire = [f for f, _ in read_frames(tmp_path / "wire.pcap")]
    assert len(wire) == 4 and all(f[14 + 9] == 50 for f in wire)
    dec = espline("model", "decap", "--json", "--config", EXAMPLES / "site-b.toml", tmp_path / "wire.pcap",
                  tmp_path / "lan-b.pcap")
    assert dec.returncode == 0, dec.stderr
    counters = json.loads(dec.stdout)
    assert counters["global"]["tx_plain"] == 4 and counters["sa"]["in spi 0x00001000"]["packets"] == 4
    assert [f for f, _ in read_frames(tmp_path / "lan-b.pcap")] == lan[:4]


def test_bad_inputs_give_one_clear_line(tmp_path):
    (tmp_path / "bad.toml").write_text('[[sa]]\nspi = 0x100\ndir = "out"\nsrc = "1.2.3.4"\ndst = "5.6.7.8"\n'
                                       'mode = "tunnel"\nkey = "0x1234"\n')
    (tmp_path / "not.pcap").write_bytes(b"hello")
    r = espline("model", "encap", "--config", tmp_path / "bad.toml", tmp_path / "not.pcap", tmp_path / "o.pcap")
    assert r.returncode == 2 and r.stderr.startswith("espline: sa[0] key:") and "Traceback" not in r.stderr
    r = espline("model", "encap", "--config", EXAMPLES / "site-a.toml", tmp_path / "not.pcap", tmp_path / "o.pcap")
    assert r.returncode == 2 and "not.pcap" in r.stderr and "Traceback" not in r.stderr


def test_spis_1_to_255_run_with_one_warning_line_each(tmp_path):
    """The example sites with SPIs 5 and 6 (as DPDK's ipsec-secgw sample configuration has them):
    each loader prints the validation's warning once per SA, and the traffic goes through."""
    for site in "ab":
        text = (EXAMPLES / f"site-{site}.toml").read_text().replace("0x1000", "5").replace("0x2000", "6")
        (tmp_path / f"site-{site}.toml").write_text(text)
    lan = [ethernet(ip_packet(size, "10.1.0.5", "10.2.0.9", seed=size)) for size in (64, 1500)]
    write_frames(tmp_path / "lan-a.pcap", lan)
    enc = espline("model", "encap", "--config", tmp_path / "site-a.toml", tmp_path / "lan-a.pcap",
                  tmp_path / "wire.pcap")
    assert enc.returncode == 0, enc.stderr
    assert enc.stderr.splitlines() == [
        f"espline: warning: sa[{i}] spi: {spi:#x} is in 1..255, reserved by IANA for future use (RFC 4303 §2.1); "
        f"accepted for manual keying, as Linux accepts it: no IKE peer chooses it" for i, spi in enumerate((5, 6))]
    wire = [f for f, _ in read_frames(tmp_path / "wire.pcap")]
    assert [int.from_bytes(f[34:38], "big") for f in wire] == [5, 5]
    dec = espline("model", "decap", "--config", tmp_path / "site-b.toml", tmp_path / "wire.pcap",
                  tmp_path / "lan-b.pcap")
    assert dec.returncode == 0 and dec.stderr.count("espline: warning:") == 2, dec.stderr
    assert [f for f, _ in read_frames(tmp_path / "lan-b.pcap")] == lan
