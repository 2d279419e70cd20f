"""Reading and writing Ethernet pcap files (what Wireshark and tcpdump read), via scapy."""

from collections.abc import Iterator
from pathlib import Path

from scapy.error import Scapy_Exception
from scapy.utils import RawPcapReader, RawPcapWriter

LINKTYPE_ETHERNET = 1


def read_frames(path: str | Path) -> Iterator[tuple[bytes, float]]:
    """(frame, timestamp) for each packet of a pcap or pcapng file with Ethernet link type."""
    try:
        reader = RawPcapReader(str(path))
    except (Scapy_Exception, OSError) as e:
        raise ValueError(f"{path}: not a readable pcap file ({e})") from None
    with reader:
        linktype = getattr(reader, "linktype", LINKTYPE_ETHERNET)
        if linktype != LINKTYPE_ETHERNET:
            raise ValueError(f"{path}: link type {linktype} is not Ethernet (1)")
        for frame, meta in reader:
            if hasattr(meta, "sec"):
                yield frame, meta.sec + meta.usec / 1e6
            else:  # pcapng
                yield frame, ((meta.tshigh << 32) | meta.tslow) / meta.tsresol


class PcapWriter:
    """An Ethernet pcap file being written; a context manager."""

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = RawPcapWriter(str(path), linktype=LINKTYPE_ETHERNET, sync=False)
        self._writer.write_header(None)  # also for a capture with no packets

    def write(self, frame: bytes, timestamp: float = 0.0) -> None:
        sec = int(timestamp)
        self._writer.write_packet(frame, sec=sec, usec=int(round((timestamp - sec) * 1e6)))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._writer.close()


def write_frames(path: str | Path, frames) -> None:
    with PcapWriter(path) as w:
        for i, frame in enumerate(frames):
            w.write(frame, i * 1e-3)
