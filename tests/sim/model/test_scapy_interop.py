"""The model against scapy's ESP (an outside implementation), both directions, every combination
of mode, NAT-T, key size, ICV size and ESN; and one-bit tampering."""

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP
from scapy.layers.ipsec import SecurityAssociation as ScapySA

from espline.sim.model import Port, Reason
from espline.sim.sites import SPI_AB, hosts, two_sites
from espline.sim.traffic import ethernet, ip_packet

SIZES = (20 + 8, 64, 333, 1500)  # smallest UDP packet, odd and full sizes
ESN_HIGH = 7  # with ESN, both ends start above 2^32 so the high half matters


def scapy_peer(sa, esn_high=0):
    """scapy's SA with the same parameters as one of the model's."""
    return ScapySA(ESP, spi=sa.spi, crypt_algo="AES-GCM", crypt_key=sa.key, crypt_icv_size=sa.icv_bits // 8,
                   tunnel_header=IP(src=sa.src, dst=sa.dst) if sa.mode == "tunnel" else None,
                   nat_t_header=UDP(sport=sa.encap.sport, dport=sa.encap.dport) if sa.encap else None,
                   esn_en=sa.esn, esn=esn_high)


def pair(case):
    mode, natt, bits, icv, esn = case
    a, b = two_sites(mode, natt, bits, icv, esn)
    out_sa, in_sa = a.sad.get("out", SPI_AB), b.sad.get("in", SPI_AB)
    if esn:
        out_sa.seq = in_sa.window.top = ESN_HIGH << 32
    return a, b, out_sa, in_sa, scapy_peer(out_sa, ESN_HIGH if esn else 0)


def with_icv(protected: IP, icv: int) -> IP:
    """scapy's AES-GCM always emits a 16-byte ICV; RFC 4106 §6's shorter ICVs are its prefix."""
    p = protected.copy()
    p[ESP].data = p[ESP].data[: len(p[ESP].data) - (16 - icv)]
    del p.len, p.chksum
    if UDP in p:
        del p[UDP].len
    return IP(bytes(p))


def test_model_matches_scapy_byte_for_byte(case):
    """Same key, SA and sequence number (= explicit IV): the ESP bytes must be identical."""
    a, _, sa, _, peer = pair(case)
    for i, size in enumerate(SIZES):
        inner = ip_packet(size, *hosts(sa.mode), seed=i)
        verdict = a.process(Port.PLAIN, ethernet(inner))
        assert verdict.port is Port.CIPHER, verdict.reason
        outer = IP(verdict.frame[14:])
        assert outer.proto == (17 if sa.encap else 50)
        expected = with_icv(peer.encrypt(IP(inner), seq_num=sa.seq & 0xFFFFFFFF, iv=sa.seq.to_bytes(8, "big")),
                            sa.icv_bits // 8)
        assert bytes(outer[ESP]) == bytes(expected[ESP])


def test_scapy_decrypts_model(case):
    """scapy verifies only full 16-byte GCM ICVs."""
    a, _, sa, _, peer = pair(case)
    if sa.icv_bits != 128:
        pytest.skip("scapy's AES-GCM cannot verify truncated ICVs (covered byte-for-byte above)")
    for i, size in enumerate(SIZES):
        inner = ip_packet(size, *hosts(sa.mode), seed=i)
        verdict = a.process(Port.PLAIN, ethernet(inner))
        assert bytes(peer.decrypt(IP(verdict.frame[14:]))) == inner


def test_model_decrypts_scapy(case):
    _, b, _, sa, peer = pair(case)
    for i, size in enumerate(SIZES):
        inner = ip_packet(size, *hosts(sa.mode), seed=i)
        protected = with_icv(peer.encrypt(IP(inner), seq_num=i + 1, iv=bytes(7) + bytes([i])), sa.icv_bits // 8)
        verdict = b.process(Port.CIPHER, ethernet(bytes(protected)))
        assert verdict.port is Port.PLAIN, verdict.reason
        assert verdict.frame[14:] == inner
    assert sa.counters.packets == len(SIZES)


@pytest.mark.parametrize("mode,natt", [("tunnel", False), ("transport", False), ("tunnel", True)])
def test_every_single_bit_flip_is_dropped_and_counted(mode, natt):
    """Each bit of the outer IPv4 header, the UDP destination port and length, and the whole ESP
    packet (SPI, sequence, IV, ciphertext, padding, ICV). The UDP source port and checksum are
    not covered: NATs rewrite them (RFC 3948 §2.1)."""
    a, b = two_sites(mode, natt)
    inner = ip_packet(100, *hosts(mode))
    wire = a.process(Port.PLAIN, ethernet(inner)).frame
    esp_at = 14 + 20 + (8 if natt else 0)
    udp_fields = range(14 + 20 + 2, 14 + 20 + 6) if natt else range(0)
    positions = [*range(14, 14 + 20), *udp_fields, *range(esp_at, len(wire))]
    for byte in positions:
        for bit in range(8):
            tampered = bytearray(wire)
            tampered[byte] ^= 1 << bit
            verdict = b.process(Port.CIPHER, bytes(tampered))
            if verdict.port is Port.HOST:  # SPI now 0: by RFC 3948 §2.2 an IKE packet, for the host
                assert natt and tampered[esp_at : esp_at + 4] == bytes(4)
                continue
            assert verdict.port is None, f"flip of byte {byte} bit {bit} passed"
    drops, sa = b.counters.drops, b.sad.get("in", SPI_AB)
    assert sum(drops.values()) + b.counters.punted == 8 * len(positions) == b.counters.rx_cipher
    assert drops[Reason.AUTH_FAIL] == sa.counters.auth_fail >= 8 * (len(wire) - esp_at - 8)
    assert b.counters.received == b.counters.accounted
    # the untouched packet still passes: the forgeries changed no state
    assert b.process(Port.CIPHER, wire).frame[14:] == inner
