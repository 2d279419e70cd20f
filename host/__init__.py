"""espline.host."""
