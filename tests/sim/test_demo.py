"""`make demo` runs end to end and its captures are what it says: the gateware in Verilator with
the model as checker (the default), and the model alone (``--model``)."""

import pytest

from espline.config import load
from espline.sim import demo, tshark
from espline.sim.pcap import read_frames

PACKETS = 20


def _check_captures(out):
    wire = [f for f, _ in read_frames(out / "wire.pcap")]
    lan_b = [f for f, _ in read_frames(out / "lan-b.pcap")]
    assert sum(f[14 + 9] == 50 for f in wire if f[12:14] == b"\x08\x00") == 2 * PACKETS + 10  # + 5 replays, 5 flips
    assert len(lan_b) == PACKETS + PACKETS + 1  # A's packets and ARP arrive; B's own packets were sent from it
    if tshark.available():  # Wireshark decrypts the A->B SA (no ESN) and checks every ICV
        decoded = tshark.decode(out / "wire.pcap", [sa for sa in load(demo.EXAMPLES / "site-a.toml").sas
                                                    if not sa.esn])
        spi_a = [d for d in decoded if d["esp.spi"][:1] == ["0x00001000"]]
        good = sum(d["esp.icv_good"] == ["1"] for d in spi_a)
        bad = sum(d["esp.icv_bad"] == ["1"] for d in spi_a)
        assert good + bad == len(spi_a) >= PACKETS  # every ESP frame of SPI 0x1000 checked
        assert good >= PACKETS and bad <= 5  # the originals and replays are good; flips in the ICV'd part bad
    else:
        print("tshark not on PATH: wire.pcap not checked by Wireshark")


def test_model_demo(tmp_path, capsys):
    assert demo.main(["--model", "--out", str(tmp_path), "--packets", str(PACKETS)]) == 0
    out = capsys.readouterr().out
    assert "demo OK" in out and "frames produced by: reference model" in out
    _check_captures(tmp_path)


@pytest.mark.slow
def test_gateware_demo(tmp_path, capsys):
    """Both sites in Verilator (built once in build/cocotb_demo_wide_verilator, shared with
    `make demo`), every frame and counter checked against the model inside the run."""
    pytest.importorskip("espline.gateware.appliance")
    code = demo.main(["--out", str(tmp_path), "--packets", str(PACKETS), "--tag", "pytest"])
    out = capsys.readouterr().out
    print(out)
    assert code == 0 and "demo OK" in out
    assert "frames produced by: gateware (Verilator " in out and "checked by: reference model" in out
    assert f"{PACKETS}/{PACKETS} A->B and {PACKETS}/{PACKETS} B->A" in out and "MISMATCH" not in out
    _check_captures(tmp_path)
