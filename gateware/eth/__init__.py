"""Gigabit Ethernet: a MAC per port (`port.EthernetPort`) between the packet bus and a GMII-level
interface (`gmii.gmii_signature`), and an RGMII PHY interface (`rgmii.RgmiiPhy`) from GMII to
the pins (docs/ethernet.md)."""
