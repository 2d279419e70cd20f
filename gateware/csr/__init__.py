"""The register interface: a Wishbone slave derived from the SystemRDL map, and its datapath ports."""
