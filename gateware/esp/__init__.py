"""The ESP datapath blocks (RFC 4303)."""
