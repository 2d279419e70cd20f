"""An attacker on the WAN for `make live` (``python -m espline.sim.live.attack IF SPI N``, inside the
WAN namespace): takes N ESP frames of SPI off the wire and sends, for each, a replay (the frame as
it was), a forgery (its sequence number moved 2^20 ahead, so it passes the replay check and fails
the ICV, RFC 4303 §3.4.3-3.4.4) and a frame under an SPI no SA has. Prints JSON: what it sent.
"""

import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 263, 1, 1


def esp_offset(frame: bytes) -> int | None:
    """Where the ESP header of an Ethernet II/IPv4 frame starts (protocol 50), or None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 50:
        return None
    return 14 + 4 * (frame[14] & 0x0F)


def attack(interface: str, spi: int, n: int, timeout: float = 60.0) -> dict:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((interface, 0))
    # a bridge hands its own interface the frames it forwards only when promiscuous
    mreq = struct.pack("iHH8s", socket.if_nametoindex(interface), PACKET_MR_PROMISC, 0, b"")
    sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
    sock.settimeout(1.0)
    taken, deadline = [], time.monotonic() + timeout
    while len(taken) < n and time.monotonic() < deadline:
        try:
            frame = sock.recv(65536)
        except TimeoutError:
            continue
        at = esp_offset(frame)
        if at is not None and int.from_bytes(frame[at:at + 4], "big") == spi:
            taken.append(frame)
    sent = {"replay": 0, "forged": 0, "unknown_spi": 0}
    for frame in taken:
        at = esp_offset(frame)
        seq = int.from_bytes(frame[at + 4:at + 8], "big")
        forged = frame[:at + 4] + ((seq + (1 << 20)) % (1 << 32)).to_bytes(4, "big") + frame[at + 8:]
        unknown = frame[:at] + (spi ^ 0x5A5A0000).to_bytes(4, "big") + frame[at + 4:]
        for kind, f in (("replay", frame), ("forged", forged), ("unknown_spi", unknown)):
            sock.send(f)
            sent[kind] += 1
    sock.close()
    return sent


if __name__ == "__main__":
    print(json.dumps(attack(sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3]))), flush=True)
