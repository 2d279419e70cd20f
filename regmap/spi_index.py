"""How the hardware finds an inbound SA by its SPI (RFC 4303 §2.1: the receiver chose the SPI
and looks the SA up by it), stated in Python so the gateware, the driver and the configuration
check follow one rule (docs/sa-table.md).

Inbound SAs may sit at any index of the SA table; a hashed index maps their SPIs to those
indexes. It has `2 * N_SA` slots in `N_SA / 2` rows of `WAYS` slots. An SPI may live in one of
two rows, `hashes(spi)`: the low bits of its CRC-32 and of its CRC-32C (each a linear function
of the SPI, so an XOR network in the gateware). Insertion takes the row with fewer used slots
(the first row on a tie) and its lowest free slot; when both rows are full the SA is refused
(SA_CMD error `full`). Twice as many slots as SAs make that rare: random SPIs fill the whole
SA table before the first refusal in almost every trial (`python -m espline.sim.bench spi_index`).
"""

WAYS = 4
POLYNOMIALS = (0x04C11DB7, 0x1EDC6F41)  # CRC-32 (IEEE 802.3), CRC-32C (Castagnoli)


def rows(n_sa: int) -> int:
    if n_sa < 2 or n_sa & (n_sa - 1):
        raise ValueError(f"N_SA: {n_sa} is not a power of two of at least 2 (the SPI index's rows)")
    return n_sa // 2


def crc32(value: int, polynomial: int) -> int:
    """The CRC of a 32-bit value, most significant bit first, register starting at zero (linear)."""
    crc = 0
    for bit in reversed(range(32)):
        top = ((crc >> 31) ^ (value >> bit)) & 1
        crc = ((crc << 1) & 0xFFFFFFFF) ^ (polynomial if top else 0)
    return crc


def hashes(spi: int, n_rows: int) -> tuple[int, int]:
    """The two rows an SPI may live in."""
    return tuple(crc32(spi, p) % n_rows for p in POLYNOMIALS)


class SpiIndex:
    """The index as the hardware keeps it: `slots[row][way]` is `(spi, sa_index)` or None."""

    def __init__(self, n_sa: int):
        self.n_rows = rows(n_sa)
        self.slots = [[None] * WAYS for _ in range(self.n_rows)]

    def insert(self, spi: int, sa_index: int) -> bool:
        """Place an SPI as the hardware does; False (nothing changed) if both its rows are full."""
        first, second = (self.slots[h] for h in hashes(spi, self.n_rows))
        row = first if sum(s is not None for s in first) <= sum(s is not None for s in second) else second
        if None not in row:
            return False
        row[row.index(None)] = (spi, sa_index)
        return True

    def remove(self, spi: int, sa_index: int) -> None:
        for h in hashes(spi, self.n_rows):
            row = self.slots[h]
            if (spi, sa_index) in row:
                row[row.index((spi, sa_index))] = None
                return

    def find(self, spi: int) -> int | None:
        for h in hashes(spi, self.n_rows):
            for slot in self.slots[h]:
                if slot is not None and slot[0] == spi:
                    return slot[1]
        return None
