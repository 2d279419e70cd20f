"""Two sites joined by one pair of SAs: the smallest real deployment, for tests, demo and bench.

Site A protects LAN A (10.1.0.0/16) towards LAN B (10.2.0.0/16) behind site B; in transport
mode the two outer addresses are themselves the protected hosts.
"""

import os

from .model import Appliance, NatT, Policy, SecurityAssociation, Selector

ADDR_A, ADDR_B = "192.0.2.1", "198.51.100.2"
LAN_A, LAN_B = "10.1.0.0/16", "10.2.0.0/16"
HOST_A, HOST_B = "10.1.0.5", "10.2.0.9"
SPI_AB, SPI_BA = 0x1000, 0x2000


def hosts(mode: str) -> tuple[str, str]:
    """(host behind A, host behind B) whose traffic the SAs protect."""
    return (HOST_A, HOST_B) if mode == "tunnel" else (ADDR_A, ADDR_B)


def two_sites(mode: str = "tunnel", natt: bool = False, key_bits: int = 128, icv: int = 16, esn: bool = False,
              **options) -> tuple[Appliance, Appliance]:
    """Appliances A and B with mirrored SAs (A->B SPI 0x1000, B->A SPI 0x2000) and policies."""
    keys = {SPI_AB: os.urandom(key_bits // 8 + 4), SPI_BA: os.urandom(key_bits // 8 + 4)}
    nets = {"A": LAN_A, "B": LAN_B} if mode == "tunnel" else {"A": f"{ADDR_A}/32", "B": f"{ADDR_B}/32"}

    def sa(spi, dir, src, dst):
        return SecurityAssociation(spi=spi, dir=dir, src=src, dst=dst, mode=mode, key=keys[spi], icv_bits=icv * 8,
                                   esn=esn, encap=NatT() if natt else None, **options)

    def appliance(me, peer, addr_me, addr_peer, spi_out, spi_in):
        return Appliance(
            [sa(spi_out, "out", addr_me, addr_peer), sa(spi_in, "in", addr_peer, addr_me)],
            [Policy("out", Selector(src=nets[me], dst=nets[peer]), "protect", spi_out),
             Policy("in", Selector(src=nets[peer], dst=nets[me]), "protect", spi_in)])

    return (appliance("A", "B", ADDR_A, ADDR_B, SPI_AB, SPI_BA),
            appliance("B", "A", ADDR_B, ADDR_A, SPI_BA, SPI_AB))
