"""cocotb + Verilator test bench for the whole appliance (`espline.gateware.appliance`).

- :mod:`.components`: packet-bus source and sink, Wishbone master (one clocked loop drives all).
- :mod:`.tb`: :class:`ApplianceBench` (clock, reset, components) and the cocotb transport that
  runs the host driver against the simulated register file.
- :mod:`.scoreboard`: expected frames and counters from the reference model.
- :mod:`.traffic`: seeded traffic mixes for a site-A appliance and its peer.
- :mod:`.bench`: the ready-to-run cocotb module (``appliance_random``); :mod:`.selftest`: the
  bench's own tests; :mod:`.twosite`: `make demo` on two appliances joined by a wire.
"""
