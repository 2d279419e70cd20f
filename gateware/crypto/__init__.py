"""Cryptographic gateware: AES (FIPS-197), GHASH and the AES-GCM engine (NIST SP 800-38D)."""
