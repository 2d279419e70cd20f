"""espline.gateware."""
