"""cocotb bench of the AES-GCM engine (gateware/crypto/gcm.py) and its packet helpers."""
