"""GCM engine test bench: packets and expectations, Amaranth-simulator driver, cocotb module."""
