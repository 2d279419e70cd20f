"""Wireshark's ESP dissector as an outside judge: decrypt a capture and check each ICV.

Wireshark 4.0's `esp_sa` table has no ESN column, so SAs with ESN cannot be checked here.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

ICV_NAMES = {8: "AES-GCM with 8 octet ICV [RFC4106]", 12: "AES-GCM with 12 octet ICV [RFC4106]",
             16: "AES-GCM with 16 octet ICV [RFC4106]"}
FIELDS = ("frame.number", "esp.spi", "esp.sequence", "ip.src", "ip.dst", "ip.proto", "udp.length", "esp.icv_good",
          "esp.icv_bad")


def available() -> bool:
    return shutil.which("tshark") is not None


def esp_sa_line(sa) -> str:
    if sa.esn:
        raise ValueError(f"spi {sa.spi:#x}: Wireshark's esp_sa table cannot express ESN")
    return (f'"IPv4","{sa.src}","{sa.dst}","{sa.spi:#010x}","{ICV_NAMES[sa.icv_bits // 8]}",'
            f'"0x{sa.key.hex()}","NULL",""\n')


def decode(pcap: str | Path, sas) -> list[dict[str, list[str]]]:
    """One dict per frame: each field of FIELDS to its values (outer first, then inner)."""
    with tempfile.TemporaryDirectory() as home:
        config = Path(home, "wireshark")
        config.mkdir()
        (config / "esp_sa").write_text("".join(esp_sa_line(sa) for sa in sas))
        result = subprocess.run(
            ["tshark", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE",
             "-o", "esp.enable_authentication_check:TRUE", "-T", "fields", "-E", "separator=\t",
             *[arg for f in FIELDS for arg in ("-e", f)]],
            env={"XDG_CONFIG_HOME": home, "HOME": home, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=120, check=True)
    return [dict(zip(FIELDS, (v.split(",") if v else [] for v in line.split("\t")), strict=True))
            for line in result.stdout.splitlines()]
