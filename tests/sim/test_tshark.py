"""Wireshark (tshark) decodes and authenticates what the model writes."""

import os

import pytest

from espline.sim import tshark
from espline.sim.model import Port
from espline.sim.pcap import write_frames
from espline.sim.sites import SPI_AB, hosts, two_sites
from espline.sim.traffic import ethernet, ip_packet

if not tshark.available():
    if os.environ.get("CI"):
        pytest.fail("tshark missing in CI: .ci/run installs it (apt-get install tshark)", pytrace=False)
    pytest.skip("tshark not installed (Debian: apt-get install tshark)", allow_module_level=True)


@pytest.mark.parametrize("mode,natt,key_bits,icv", [
    ("tunnel", False, 128, 16), ("transport", False, 256, 8), ("tunnel", True, 256, 12), ("transport", True, 128, 16),
])
def test_tshark_decrypts_and_verifies_model_output(tmp_path, mode, natt, key_bits, icv):
    a, _ = two_sites(mode, natt, key_bits, icv)
    sa = a.sad.get("out", SPI_AB)
    src, dst = hosts(mode)
    sizes = (28, 100, 1500)
    frames = [a.process(Port.PLAIN, ethernet(ip_packet(size, src, dst, seed=size))).frame for size in sizes]
    tampered = bytearray(frames[-1])
    tampered[-icv - 3] ^= 0x40  # one ciphertext bit
    write_frames(tmp_path / "wire.pcap", [*frames, bytes(tampered)])

    decoded = tshark.decode(tmp_path / "wire.pcap", [sa])
    assert [d["esp.spi"] for d in decoded] == [[f"{SPI_AB:#010x}"]] * 4
    assert [d["esp.sequence"] for d in decoded] == [["1"], ["2"], ["3"], ["3"]]
    assert [(d["esp.icv_good"], d["esp.icv_bad"]) for d in decoded] == [(["1"], ["0"])] * 3 + [(["0"], ["1"])]
    for d, size in zip(decoded, sizes, strict=False):  # the decrypted inner packet, dissected
        assert d["ip.src"][-1] == src and d["ip.dst"][-1] == dst
        assert d["udp.length"][-1] == str(size - 20)
