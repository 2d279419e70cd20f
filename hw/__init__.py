"""espline.hw."""
