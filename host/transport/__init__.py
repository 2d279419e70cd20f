"""How the host reaches the register file: 32-bit reads and writes at byte addresses.

`AmaranthSimTransport` drives the CSR gateware's Wishbone bus in Amaranth's simulator;
`UartTransport` (espline.host.transport.uart) talks to the UART bridge of a real board.
"""

from typing import Protocol


class Transport(Protocol):
    def read(self, address: int) -> int:
        """The 32-bit word at byte `address`."""

    def write(self, address: int, value: int) -> None:
        """Write the 32-bit word at byte `address`."""
