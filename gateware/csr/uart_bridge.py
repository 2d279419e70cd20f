"""UART to Wishbone bridge: the host reaches the register file of a board over a serial port.

Byte protocol (8N1; all numbers big-endian; addresses are byte addresses, word aligned):

    read:   host  'R' A3 A2 A1 A0              device  'r' D3 D2 D1 D0
    write:  host  'W' A3 A2 A1 A0 D3 D2 D1 D0  device  'w'

One Wishbone B4 classic cycle per command (`sel` all ones, word address = byte address >> 2);
the reply is sent when the slave has acknowledged. Between commands, bytes other than 'R' and
'W' are ignored. A command whose bytes stop coming for `timeout` clock cycles is abandoned
without a bus cycle, so a host that lost a byte resynchronises by waiting that long.
`espline.host.transport.uart` is the host side.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import wishbone
from .uart_rx import UartRx
from .uart_tx import UartTx

READ, WRITE = ord("R"), ord("W")
READ_REPLY, WRITE_REPLY = ord("r"), ord("w")


class UartBridge(wiring.Component):
    def __init__(self, addr_width: int, divisor: int, timeout: int | None = None):
        """`divisor`: clock cycles per bit (clock / baud rate); `timeout` defaults to 40 byte times."""
        self.divisor = divisor
        self.timeout = timeout or 400 * divisor
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "bus": Out(wishbone.Signature(addr_width))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UartRx(self.divisor)
        m.submodules.tx = tx = UartTx(self.divisor)
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), rx.data.ready.eq(1)]
        bus = self.bus
        write = Signal()
        shift = Signal(64)  # address ‖ data, as received
        count = Signal(range(9))  # bytes still to come, or still to send
        idle = Signal(range(self.timeout + 1))
        m.d.comb += [bus.adr.eq(shift[32 + 2:]), bus.dat_w.eq(shift[:32]), bus.sel.eq(0b1111), bus.we.eq(write)]
        byte = rx.data.valid
        with m.FSM():
            with m.State("COMMAND"):
                with m.If(byte & ((rx.data.payload == READ) | (rx.data.payload == WRITE))):
                    m.d.sync += [write.eq(rx.data.payload == WRITE), count.eq(4 + 4 * (rx.data.payload == WRITE)),
                                 idle.eq(0)]
                    m.next = "ARGUMENTS"
            with m.State("ARGUMENTS"):
                m.d.sync += idle.eq(idle + 1)
                with m.If(byte):
                    m.d.sync += [shift.eq(shift << 8 | rx.data.payload), count.eq(count - 1), idle.eq(0)]
                    with m.If(count == 1):
                        m.next = "ALIGN"
                with m.Elif(idle == self.timeout):
                    m.next = "COMMAND"
            with m.State("ALIGN"):  # a read has only its address in the low word: move it up
                with m.If(~write):
                    m.d.sync += shift.eq(shift << 32)
                m.next = "BUS"
            with m.State("BUS"):
                m.d.comb += [bus.cyc.eq(1), bus.stb.eq(1)]
                with m.If(bus.ack):
                    m.d.sync += [shift[:32].eq(bus.dat_r), count.eq(Mux(write, 1, 5))]
                    m.next = "REPLY"
            with m.State("REPLY"):
                m.d.comb += tx.data.valid.eq(1)
                with m.If(count == 5):
                    m.d.comb += tx.data.payload.eq(READ_REPLY)
                with m.Elif(write):
                    m.d.comb += tx.data.payload.eq(WRITE_REPLY)
                with m.Else():
                    m.d.comb += tx.data.payload.eq(shift[24:32])
                with m.If(tx.data.ready):
                    m.d.sync += count.eq(count - 1)
                    with m.If(~write & (count != 5)):
                        m.d.sync += shift[:32].eq(shift[:32] << 8)
                    with m.If(count == 1):
                        m.next = "COMMAND"
        return m
