"""Captures the reference model reads (sim/pcap.py): Ethernet, Linux cooked SLL and SLL2 (what
`tcpdump -i any` writes), raw IP (a TUN interface), in pcap and pcapng, written by scapy and by
tcpdump itself; each packet as the Ethernet frame the appliance sees, and a clear error for the
rest."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import LLC, STP, CookedLinux, CookedLinuxV2, Dot1Q, Ether
from scapy.utils import RawPcapNgWriter, wrpcap

from espline.sim.pcap import read_frames
from espline.sim.traffic import ip_packet

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
DST = bytes.fromhex("020000000002")  # the destination MAC a cooked or raw capture does not have
NO_SRC = bytes.fromhex("020000000001")  # the source MAC where it has none
HOST_MAC = bytes.fromhex("5254001234ab")
V4 = ip_packet(100, "10.1.0.5", "10.2.0.9", seed=1)
V6 = bytes(IPv6(src="fd00::1", dst="fd00::2") / UDP(sport=1, dport=2) / b"six")


def frames(path):
    return [f for f, _ in read_frames(path)]


def pcap(path, packets, linktype):
    """`packets` (scapy packets or bytes) in a pcap file of `linktype`, written by scapy."""
    wrpcap(str(path), [bytes(p) for p in packets], linktype=linktype)


def pcapng(path, packets, linktype):
    """The same as a pcapng file (one interface of `linktype`), written by scapy."""
    writer = RawPcapNgWriter(str(path))
    writer.linktype = linktype  # the interface description block's link type
    for p in packets:
        writer.write(bytes(p))
    writer.close()


@pytest.mark.parametrize("write", [pcap, pcapng])
def test_cooked_captures_become_ethernet_frames(tmp_path, write):
    """SLL and SLL2 (scapy writes them): the cooked protocol is the EtherType, the cooked address
    of an Ethernet interface the source MAC; a VLAN tag libpcap restored stays behind 0x8100; an
    802.2 LLC packet (protocol 4) becomes an 802.3 frame with its length."""
    stp = bytes(LLC() / STP())
    for linktype, layer, fields in ((113, CookedLinux, {"pkttype": 0}), (276, CookedLinuxV2, {"ifindex": 3})):
        eth = {"lladdrtype": 1, "lladdrlen": 6, "src": HOST_MAC, **fields}  # ARPHRD_ETHER, its MAC
        packets = [
            layer(proto=0x0800, **eth) / IP(V4),
            layer(proto=0x86DD, **eth) / IPv6(V6),
            layer(proto=0x8100, **eth) / Dot1Q(vlan=7, type=0x0800) / IP(V4),
            layer(lladdrtype=0xFFFE, lladdrlen=0, proto=0x0800, **fields) / IP(V4),  # a TUN or PPP device: no MAC
            layer(proto=0x0004, **eth) / stp,
        ]
        write(tmp_path / "cooked", packets, linktype)
        assert frames(tmp_path / "cooked") == [
            DST + HOST_MAC + b"\x08\x00" + V4,
            DST + HOST_MAC + b"\x86\xdd" + V6,
            DST + HOST_MAC + b"\x81\x00" + b"\x00\x07\x08\x00" + V4,
            DST + NO_SRC + b"\x08\x00" + V4,
            DST + HOST_MAC + len(stp).to_bytes(2, "big") + stp,
        ], linktype


@pytest.mark.parametrize("linktype", [101, 12, 14, 228, 229])
@pytest.mark.parametrize("write", [pcap, pcapng])
def test_raw_ip_captures_become_ethernet_frames(tmp_path, write, linktype):
    """Raw IP (a TUN interface): the version nibble picks the EtherType (LINKTYPE_IPV4/IPV6 say it),
    and a packet of neither version goes in as IPv4, where the appliance finds it malformed."""
    packets = {228: [V4], 229: [V6]}.get(linktype, [V4, V6, b"\x00\x01", b""])
    write(tmp_path / "raw", packets, linktype)
    ethertype = {V4: b"\x08\x00", V6: b"\x86\xdd"}
    assert frames(tmp_path / "raw") == [DST + NO_SRC + ethertype.get(p, b"\x08\x00") + p for p in packets]


def test_ethernet_captures_are_read_as_they_are(tmp_path):
    frame = bytes(Ether(src="02:00:00:00:00:0a", dst="02:00:00:00:00:0b") / IP(V4))
    for write in (pcap, pcapng):
        write(tmp_path / "eth", [frame], 1)
        assert frames(tmp_path / "eth") == [frame]


def test_unsupported_captures_are_refused_by_name(tmp_path):
    pcap(tmp_path / "wifi.pcap", [b"\x80\x00" + bytes(22)], 105)
    with pytest.raises(ValueError, match=r"wifi.pcap: link type 105 is not supported \(only Ethernet \(1\), Linux "
                                         r"cooked SLL \(113\) and SLL2 \(276\), raw IP"):
        frames(tmp_path / "wifi.pcap")
    pcap(tmp_path / "empty.pcap", [], 105)  # refused even without a packet
    with pytest.raises(ValueError, match="link type 105"):
        frames(tmp_path / "empty.pcap")
    pcapng(tmp_path / "can.pcapng", [CookedLinuxV2(proto=0x000C) / b"can frame", b"\x00" * 5], 276)
    with pytest.raises(ValueError, match=r"can.pcapng: packet 1: cooked protocol 0x000c is not an EtherType"):
        frames(tmp_path / "can.pcapng")
    pcap(tmp_path / "short.pcap", [b"\x00" * 5], 113)
    with pytest.raises(ValueError, match="packet 1: 5 bytes is shorter than the 16-byte SLL header"):
        frames(tmp_path / "short.pcap")


def test_the_model_encapsulates_a_cooked_capture(tmp_path):
    """`espline model encap` on what `tcpdump -i any` would have written on LAN A (SLL2), and
    `decap` at site B: the LAN B capture holds the same IPv4 packets, in the MACs stated above."""
    inner = [ip_packet(size, "10.1.0.5", "10.2.0.9", seed=size) for size in (28, 64, 1500)]
    pcap(tmp_path / "lan-a.pcap", [CookedLinuxV2(lladdrtype=1, lladdrlen=6, src=HOST_MAC) / IP(p) for p in inner],
         276)

    def espline(*args):
        return subprocess.run([sys.executable, "-m", "espline.sim.cli", "model", *map(str, args)],
                              capture_output=True, text=True)
    enc = espline("encap", "--config", EXAMPLES / "site-a.toml", tmp_path / "lan-a.pcap", tmp_path / "wire.pcap")
    assert enc.returncode == 0 and "tx_cipher=3" in enc.stdout, enc.stderr
    dec = espline("decap", "--config", EXAMPLES / "site-b.toml", tmp_path / "wire.pcap", tmp_path / "lan-b.pcap")
    assert dec.returncode == 0, dec.stderr
    assert frames(tmp_path / "lan-b.pcap") == [DST + HOST_MAC + b"\x08\x00" + p for p in inner]
    pcap(tmp_path / "wifi.pcap", [bytes(24)], 105)
    bad = espline("encap", "--config", EXAMPLES / "site-a.toml", tmp_path / "wifi.pcap", tmp_path / "o.pcap")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "link type 105 is not supported" in bad.stderr


def tcpdump_any(path: Path, linktype: str, payloads: list[bytes]) -> None:
    """`tcpdump -i any -y LINKTYPE` of UDP datagrams sent to 127.0.0.1 (skips the test where
    tcpdump cannot capture: not installed, or no capture rights)."""
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed (Debian: apt-get install tcpdump)")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        log = path.with_suffix(".log")
        with open(log, "w") as err:
            proc = subprocess.Popen([tcpdump, "-i", "any", "-y", linktype, "-U", "-n", "-Z", "root",
                                     "-c", str(len(payloads)), "-w", str(path), f"udp dst port {port}"],
                                    stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 10
            while "listening on" not in log.read_text():
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"tcpdump cannot capture here: {log.read_text().strip()}")
                time.sleep(0.05)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
                for payload in payloads:
                    tx.sendto(payload, ("127.0.0.1", port))
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, log.read_text()


@pytest.mark.parametrize("linktype", ["LINUX_SLL", "LINUX_SLL2"])
def test_a_tcpdump_any_capture(tmp_path, linktype):
    """What tcpdump itself writes for `-i any` (loopback traffic; lo's address is zeros), and the
    same capture as pcapng (tshark converts it): IPv4 frames carrying the datagrams sent."""
    payloads = [b"espline %d" % i for i in range(3)]
    tcpdump_any(tmp_path / "any.pcap", linktype, payloads)
    got = frames(tmp_path / "any.pcap")
    assert [f[:14] for f in got] == [DST + bytes(6) + b"\x08\x00"] * 3
    assert [IP(f[14:])[UDP].load for f in got] == payloads
    tshark = shutil.which("tshark")
    if tshark:
        subprocess.run([tshark, "-r", str(tmp_path / "any.pcap"), "-F", "pcapng", "-w", str(tmp_path / "any.pcapng")],
                       check=True, capture_output=True)
        assert frames(tmp_path / "any.pcapng") == got
