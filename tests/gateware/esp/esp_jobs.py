"""Encapsulator and decapsulator jobs built from the reference model's SA and packets, filled as
the control blocks fill them (gateware/esp/outbound_control.py, inbound_classify.py), and the
packet-level facts the tests check against. Header bytes come from the model's own packet."""

import struct

from espline.gateware.esp.splitter import DROP, FORWARD, SPLIT
from espline.sim.gcmtb.pysim import stream_put
from espline.sim.model import esp
from espline.sim.packetbus import put_frame
from espline.sim.traffic import ethernet, ip_packet


def ip_of(frame: bytes):
    """(l2 length, IPv4 header length, total length, protocol) of an Ethernet frame."""
    l2 = 18 if frame[12:14] == b"\x81\x00" else 14
    packet = frame[l2:]
    return l2, (packet[0] & 15) * 4, int.from_bytes(packet[2:4], "big"), packet[9]


def aad(sa, seq: int) -> bytes:
    """RFC 4106 §5: SPI ‖ seq low, or SPI ‖ seq high ‖ seq low with ESN."""
    return struct.pack("!IQ", sa.spi, seq) if sa.esn else struct.pack("!II", sa.spi, seq & 0xFFFFFFFF)


def gcm_command(sa, seq: int, length: int, decrypt: bool) -> dict:
    """The engine's command for one packet of `sa` (gateware/crypto/gcm.py's GCMCommand: byte
    strings as big-endian numbers, left-aligned)."""
    key, salt = sa.key[:-4], sa.key[-4:]
    a = aad(sa, seq)
    return {"key": int.from_bytes(key.ljust(32, b"\0"), "big"), "aes256": len(key) == 32, "decrypt": decrypt,
            "iv": int.from_bytes(salt + seq.to_bytes(8, "big"), "big"),
            "aad": int.from_bytes(a.ljust(16, b"\0"), "big"), "aad_len": len(a), "length": length,
            "icv_len": sa.icv_bits // 8}


def lanes(data: bytes) -> int:
    """Bytes in wire order as a little-lane vector (byte 0 lowest), as the job's header fields."""
    return int.from_bytes(data, "little")


def encap(sa, frame: bytes, tag: int = 0):
    """The model's protected frame for `frame` under the outbound `sa` (its sequence number moves
    on) and the encapsulator job for it, its headers cut from the model's packet."""
    l2, ihl, total, proto = ip_of(frame)
    protected = esp.encapsulate(sa, frame[l2 : l2 + total], ihl, [])
    transport, natt = sa.mode == "transport", sa.encap is not None
    payload_len = total - ihl if transport else total
    pad = -(payload_len + 2) % 4
    at = ihl if transport else 20  # the (rewritten inner or new outer) IPv4 header
    udp = protected[at : at + 8] if natt else b""
    esp_header = protected[at + len(udp) : at + len(udp) + 16]
    job = {"tag": tag, "action": SPLIT, "l2_len": l2, "ihl": ihl // 4, "length": len(frame),
           "payload_start": l2 + (ihl if transport else 0), "payload_end": l2 + total, "pad": pad,
           "next_header": proto if transport else 4, "tunnel": not transport, "natt": natt,
           "outer": 0 if transport else lanes(protected[:20]), "udp": lanes(udp), "esp": lanes(esp_header),
           "ip_length": int.from_bytes(protected[2:4], "big"), "ip_proto": protected[9],
           "gcm": gcm_command(sa, sa.seq, payload_len + pad + 2, decrypt=False)}
    return frame[:l2] + protected, job


def pass_job(action: int, tag: int = 0) -> dict:
    """An encapsulator job that forwards or drops a frame."""
    return {"tag": tag, "action": action}


def decap(sa, frame: bytes, tag: int = 0) -> dict:
    """The decapsulator job for an ESP frame (direct or in UDP/4500) of the inbound `sa`; the
    sequence number's high half (ESN) is 0, as for the fresh SAs of these tests."""
    l2, ihl, total, _ = ip_of(frame)
    esp_at = ihl + 8 if sa.encap is not None else ihl
    icv = sa.icv_bits // 8
    seq = int.from_bytes(frame[l2 + esp_at + 4 : l2 + esp_at + 8], "big")
    split = {"action": SPLIT, "tag": 0, "a": l2 + (ihl if sa.mode == "transport" else 0), "b": l2 + esp_at + 16,
             "c": l2 + total - icv, "d": l2 + total, "cut": 1, "extra": 0, "extra_n": 0}
    return {"tag": tag, "split": split, "decrypt": 1,
            "gcm": gcm_command(sa, seq, total - esp_at - 16 - icv, decrypt=True)}


def decap_pass(action: int, to_host: bool = False, tag: int = 0) -> dict:
    """A decapsulator job that forwards (to the plaintext side or the host) or drops a frame."""
    return {"tag": tag, "split": {"action": action, "tag": int(to_host)}, "decrypt": 0}


def plain_frames(rng, mode: str, count: int, hosts: tuple[str, str]):
    """IPv4 frames between `hosts` of random sizes, protocols, VLAN tags and Ethernet padding."""
    out = []
    for i in range(count):
        frame = ethernet(ip_packet(rng.randint(40, 300), *hosts, rng.choice(("udp", "tcp", "icmp")), seed=i,
                                   df=rng.random() < 0.5, tos=rng.randrange(256)), vlan=rng.choice((None, 5)))
        out.append(frame + (bytes(rng.randint(1, 12)) if rng.random() < 0.2 else b""))
    return out


__all__ = ["DROP", "FORWARD", "SPLIT", "aad", "decap", "decap_pass", "encap", "gcm_command", "ip_of", "lanes",
           "pass_job", "plain_frames"]


def feeders(dut, items, rng):
    """Two testbenches: each item's frame onto `dut.frame` and its job onto `dut.job`, idling at random."""
    async def frames(ctx):
        for frame, _, _ in items:
            await put_frame(ctx, dut.frame, frame, dut.width, rng, idle=0.3)

    async def jobs(ctx):
        await stream_put(ctx, dut.job, [job for _, job, _ in items], rng=rng, valid_prob=0.6)

    return frames, jobs
