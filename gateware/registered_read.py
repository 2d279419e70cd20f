"""A memory read through registers, without emulating a read of the word being written.

A read port here is an asynchronous (`comb`) port and a register behind it, which Yosys merges
into a block RAM's synchronous read port (docs/synth.md). The memory's `no_rw_check` attribute
(honoured only there, at the merge) spares the emulation of a read of the word written in the
same cycle: a delayed write and a bypass multiplexer of the memory's width. The caller
guarantees that it never uses the result of such a read; what it gets is undefined.
"""

from amaranth.hdl import Signal
from amaranth.lib.memory import Memory


def memory(shape, depth: int, *, block: bool = False) -> Memory:
    """A `Memory` of `depth` words of `shape`, zero at reset, to read through `read_port`; in
    block RAM if `block` (else where Yosys puts it)."""
    return Memory(shape=shape, depth=depth, init=[],
                  attrs={"no_rw_check": 1, **({"ram_style": "block"} if block else {})})


def read_port(m, memory: Memory, *, en=None, name: str | None = None):
    """A read port of `memory` (from `memory` above): returns the port, whose `addr` the caller
    drives, and the register that holds the word at `addr` a cycle later (that loads only while
    `en`, if given)."""
    port, word = memory.read_port(domain="comb"), Signal(memory.shape, name=name)
    if en is None:
        m.d.sync += word.eq(port.data)
    else:
        with m.If(en):
            m.d.sync += word.eq(port.data)
    return port, word
