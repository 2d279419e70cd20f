"""UART bridge: the host reaches the register file of a board over a serial port, and, with a
host port, exchanges frames with the appliance's host port over the same line (docs/boards.md).

Byte protocol (8N1; all numbers big-endian; addresses are byte addresses, word aligned):

    read:        host  'R' A3 A2 A1 A0              device  'r' D3 D2 D1 D0
    write:       host  'W' A3 A2 A1 A0 D3 D2 D1 D0  device  'w'
    frame in:    host  'F' N1 N0 B0 .. B(N-1)       device  'f'  (or 'x': N is 0 or exceeds the buffer)
    frame out:   host  'P'                          device  'p' N1 N0 B0 .. B(N-1)  (N = 0: none waiting)

'R'/'W': one Wishbone B4 classic cycle (`sel` all ones, word address = byte address >> 2); the
reply is sent when the slave has acknowledged. 'F' and 'P' exist with a host port (`width`
given): 'F' carries one frame of N bytes for `from_host` (the appliance's `host_i`); the bytes
are gathered in a buffer of `frame_bytes` and the frame goes out whole, one beat per cycle, so the
serial line never holds the packet bus mid-frame; 'f' is sent once the frame's last beat has been
taken. A refused frame's N bytes are read and discarded before the 'x'. 'P' asks for the oldest
frame from `to_host` (the appliance's `host_o`): the bridge holds one whole frame, taken at bus
speed; frames wait in the appliance's host queue, which drops and counts what it cannot hold, so
a host that polls slowly loses frames but never stalls the datapath. A frame to the host longer
than `frame_bytes` is dropped (`to_host_dropped` pulses).

Between commands, other bytes are ignored. A command whose bytes stop coming for `timeout` clock
cycles is abandoned (no bus cycle, no frame), so a host that lost a byte resynchronises by waiting
that long. `espline.host.transport.uart` is the host side.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..packet import packet_signature
from ..plumbing import Register
from . import wishbone
from .frame_from_bytes import FrameFromBytes
from .frame_to_bytes import FrameToBytes
from .uart_rx import UartRx
from .uart_tx import UartTx

READ, WRITE, FRAME, POLL = ord("R"), ord("W"), ord("F"), ord("P")
READ_REPLY, WRITE_REPLY, FRAME_REPLY, REFUSED, POLL_REPLY = ord("r"), ord("w"), ord("f"), ord("x"), ord("p")


class UartBridge(wiring.Component):
    def __init__(self, addr_width: int, divisor: int, timeout: int | None = None, *, width: int | None = None,
                 frame_bytes: int = 2048):
        """`divisor`: clock cycles per bit (clock / baud rate); `timeout` defaults to 40 byte times;
        `width`: the host port's packet bus width in bytes (None: registers only)."""
        self.divisor = divisor
        self.timeout = timeout or 400 * divisor
        self.width, self.frame_bytes = width, frame_bytes
        members = {"rx": In(1, init=1), "tx": Out(1, init=1), "bus": Out(wishbone.Signature(addr_width))}
        if width is not None:
            members.update(to_host=In(packet_signature(width)), from_host=Out(packet_signature(width)),
                           to_host_dropped=Out(1))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UartRx(self.divisor)
        m.submodules.tx = tx = UartTx(self.divisor)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), rx.data.ready.eq(1)]
        host = self.width is not None
        if host:
            m.submodules.inward = inward = FrameFromBytes(self.width, self.frame_bytes)
            m.submodules.outward = outward = FrameToBytes(self.width, self.frame_bytes)
            # a register after the buffer's block RAM (clock-to-output 5.8 ns of 8 on a -6 ECP5: docs/boards.md)
            m.submodules.inward_register = inward_register = Register(inward.o.payload.shape())
            wiring.connect(m, inward.o, inward_register.i)
            wiring.connect(m, inward_register.o, wiring.flipped(self.from_host))
            wiring.connect(m, wiring.flipped(self.to_host), outward.i)
            m.d.comb += self.to_host_dropped.eq(outward.dropped)

        bus = self.bus
        command = Signal(8)
        shift = Signal(64)  # the arguments as received: address ‖ data, or the frame length
        count = Signal(range(9))  # argument bytes still to come, or reply bytes still to send
        remaining = Signal(16)  # frame bytes still to come
        reply = Signal(40)  # the reply, sent from its top byte down
        stream_after = Signal()  # a frame's bytes follow the reply
        idle = Signal(range(self.timeout + 1))
        write = command == WRITE
        m.d.comb += [bus.adr.eq(shift[32 + 2:]), bus.dat_w.eq(shift[:32]), bus.sel.eq(0b1111), bus.we.eq(write)]
        byte, data = rx.data.valid, rx.data.payload
        length = shift[:16]

        def arguments(n):
            m.d.sync += [command.eq(data), count.eq(n), idle.eq(0)]
            m.next = "ARGUMENTS"

        def answer(first, n=1, rest=0, then_stream=0):
            m.d.sync += [reply.eq(Cat(Const(rest, 32) if isinstance(rest, int) else rest[:32], Const(first, 8))),
                         count.eq(n), stream_after.eq(then_stream)]
            m.next = "REPLY"

        def timed_out():
            m.d.sync += idle.eq(idle + 1)
            with m.If(idle == self.timeout):
                m.next = "COMMAND"

        with m.FSM():
            with m.State("COMMAND"):
                with m.If(byte & (data == READ)):
                    arguments(4)
                with m.Elif(byte & (data == WRITE)):
                    arguments(8)
                if host:
                    with m.Elif(byte & (data == FRAME)):
                        arguments(2)
                    with m.Elif(byte & (data == POLL)):
                        answer(POLL_REPLY, 3, Mux(outward.full, outward.length, 0) << 16, then_stream=outward.full)
            with m.State("ARGUMENTS"):
                with m.If(byte):
                    m.d.sync += [shift.eq(shift << 8 | data), count.eq(count - 1), idle.eq(0)]
                    with m.If(count == 1):
                        m.next = "DISPATCH"
                with m.Else():
                    timed_out()
            with m.State("DISPATCH"):
                with m.If(command == READ):  # a read has only its address in the low word: move it up
                    m.d.sync += shift.eq(shift << 32)
                    m.next = "BUS"
                if host:
                    with m.Elif(command == FRAME):
                        m.d.sync += [remaining.eq(length), idle.eq(0)]
                        m.d.comb += inward.clear.eq(1)
                        with m.If(length == 0):
                            answer(REFUSED)
                        with m.Elif(length > self.frame_bytes):
                            m.next = "SKIP"
                        with m.Else():
                            m.next = "FRAME"
                with m.Else():
                    m.next = "BUS"
            with m.State("BUS"):
                m.d.comb += [bus.cyc.eq(1), bus.stb.eq(1)]
                with m.If(bus.ack):
                    with m.If(write):
                        answer(WRITE_REPLY)
                    with m.Else():
                        answer(READ_REPLY, 5, bus.dat_r)
            if host:
                with m.State("FRAME"):
                    m.d.comb += [inward.byte.valid.eq(byte), inward.byte.payload.eq(data)]
                    with m.If(byte):
                        m.d.sync += [remaining.eq(remaining - 1), idle.eq(0)]
                        with m.If(remaining == 1):
                            m.next = "SENDING"
                    with m.Else():
                        timed_out()
                with m.State("SENDING"):
                    m.d.comb += inward.commit.eq(1)
                    with m.If(self.from_host.valid & self.from_host.ready & self.from_host.payload.last):
                        answer(FRAME_REPLY)
                with m.State("SKIP"):
                    with m.If(byte):
                        m.d.sync += [remaining.eq(remaining - 1), idle.eq(0)]
                        with m.If(remaining == 1):
                            answer(REFUSED)
                    with m.Else():
                        timed_out()
                with m.State("STREAM"):
                    wiring.connect(m, outward.byte, tx.data)
                    with m.If(~outward.full):
                        m.next = "COMMAND"
            with m.State("REPLY"):
                m.d.comb += [tx.data.valid.eq(1), tx.data.payload.eq(reply[32:])]
                with m.If(tx.data.ready):
                    m.d.sync += [reply.eq(reply << 8), count.eq(count - 1)]
                    with m.If(count == 1):
                        m.next = "COMMAND"
                        if host:
                            with m.If(stream_after):
                                m.next = "STREAM"
        return m
