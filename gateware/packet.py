"""The packet bus every espline block speaks: Ethernet frames as a stream of fixed-width beats.

A beat carries `width` bytes, byte i of the beat in bits [8i+7:8i] (the first byte on the wire
in the lowest lane, as AXI4-Stream does); `nbytes` counts the valid bytes, which are the
lowest ones and fewer than `width` only on the last beat; `first` and `last` mark a frame's
first and last beat. Frames are delimited by `last` alone: the beat after a `last` starts the
next frame, whatever its `first` says, so no input can make two blocks disagree on where a frame
begins (docs/invariants.md, frames and decisions in step).

Each direction numbers the frames it takes in: `FRAME_TAG`, the frame's number modulo 256. The
stored frame and its decision both carry it, and they are released only as a matching pair
(`espline.gateware.esp.frame_join`).
"""

from amaranth.hdl import unsigned
from amaranth.lib import data, stream

FRAME_TAG = unsigned(8)


def beat_layout(width: int) -> data.StructLayout:
    return data.StructLayout({"data": unsigned(8 * width), "nbytes": unsigned(width.bit_length()),
                              "first": unsigned(1), "last": unsigned(1)})


def packet_signature(width: int) -> stream.Signature:
    return stream.Signature(beat_layout(width))


def fragment_layout(width: int) -> data.StructLayout:
    """Some bytes of a frame on `width` lanes: lanes `lo .. lo+n-1` of `data` (`espline.gateware.repack`)."""
    return data.StructLayout({"data": 8 * width, "lo": range(width), "n": range(width + 1), "last": 1})
