"""espline.sim."""
