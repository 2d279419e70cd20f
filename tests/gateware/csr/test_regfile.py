"""The register file over Wishbone: every register written and read back, write-only keys,
consistent 64-bit counter reads, events, interrupts, command errors."""

import random

from amaranth.sim import Simulator
from csr_tb import bench

from espline import regmap as rm
from espline.gateware.csr.regfile import RegisterFile
from espline.regmap.enums import CmdErr, CmdOp

# Commands: written by the command tests, not as storage.
COMMANDS = {"sa_cmd", "spd_cmd"}


def test_id_and_capabilities():
    transport, _ = bench(N_SA=8, N_POLICY=8, WINDOW=256, EVENT_DEPTH=4)
    assert transport.read(0x000) == int.from_bytes(b"ESPL", "big")
    assert transport.read(0x008) == 8 | 8 << 16
    assert transport.read(0x00C) == 256 | 4 << 16


def test_every_register_written_and_read_back():
    transport, stub = bench()
    rng = random.Random(1)
    regmap = rm.compile(N_SA=8, N_POLICY=8)
    stub.global_counters = {r.path[1]: rng.getrandbits(64) for r in regmap.registers if r.path[0] == "global_cnt"}
    transport.idle(2)
    written = {}
    for reg in regmap.registers:
        if reg.name in COMMANDS or not any(f.sw_write for f in reg.fields):
            continue
        for word in range(reg.words):
            value = rng.getrandbits(32)
            transport.write(reg.address + 4 * word, value)
            written[reg.address + 4 * word] = value
    checked = 0
    for reg in regmap.registers:
        for word in range(reg.words):
            address = reg.address + 4 * word
            got = transport.read(address)
            expected = 0
            for f in reg.fields:
                lo, hi = max(f.lsb, 32 * word), min(f.lsb + f.width, 32 * word + 32)
                if lo >= hi or not f.sw_read:
                    continue  # write-only (key, salt, commands) reads as zero
                mask = ((1 << (hi - lo)) - 1) << (lo - 32 * word)
                if f.woclr:
                    value = 0  # INT_STATUS.overflow: only hardware sets it
                elif f.sw_write:
                    value = written[address]
                elif reg.path[0] == "global_cnt":
                    value = stub.global_counters[reg.path[1]] >> (32 * word)
                elif f.hw_write:
                    value = 0  # status and snapshot registers at rest
                else:
                    value = f.reset << f.lsb >> (32 * word)
                expected |= value & mask
            assert got == expected, f"{reg.name} word {word}: {got:#010x} != {expected:#010x}"
            checked += 1
    assert checked == sum(r.words for r in regmap.registers)


def test_keys_and_salt_read_as_zero():
    transport, _ = bench()
    regmap = rm.compile(N_SA=8, N_POLICY=8)
    secret = [r for r in regmap.registers if r.path[1:2] in (("key",), ("salt",))]
    assert len(secret) == 9
    for reg in secret:
        transport.write(reg.address, 0xFFFFFFFF)
        assert transport.read(reg.address) == 0


def test_counter_reads_are_consistent_while_counting():
    transport, stub = bench()
    address = rm.compile(N_SA=8, N_POLICY=8)["global_cnt.rx_cipher"].address
    stub.global_counters = {"rx_cipher": 0x1_FFFF_FFFF}
    transport.idle(2)
    low = transport.read(address)
    stub.global_counters = {"rx_cipher": 0x2_0000_0005}  # carried into the high word meanwhile
    transport.idle(2)
    high = transport.read(address + 4)
    assert high << 32 | low == 0x1_FFFF_FFFF
    assert transport.read(address) | transport.read(address + 4) << 32 == 0x2_0000_0005


def test_event_fifo_pops_on_read_and_raises_irq():
    transport, stub = bench(EVENT_DEPTH=4)
    regmap = rm.compile(N_SA=8, N_POLICY=8, EVENT_DEPTH=4)
    event, status, enable = (regmap[n].address for n in ("event", "int_status", "int_enable"))
    assert transport.read(event) == 0
    transport.write(enable, 0b11)
    stub.events.extend([(1, 3), (3, 7)] + [(2, i) for i in range(4)])  # six events into a FIFO of four
    transport.idle(10)
    assert transport.read(status) == 0b11  # pending, overflow
    assert stub.irq
    assert [transport.read(event) for _ in range(5)] == [1 | 3 << 16, 3 | 7 << 16, 2 | 0 << 16, 2 | 1 << 16, 0]
    assert transport.read(status) == 0b10
    assert stub.irq  # the overflow is still flagged
    transport.write(status, 0b10)  # write 1 to clear
    assert transport.read(status) == 0
    transport.idle(1)
    assert not stub.irq


def test_command_errors():
    transport, _ = bench()
    regmap = rm.compile(N_SA=8, N_POLICY=8)
    cmd, status = regmap["sa_cmd"].address, regmap["sa_status"].address
    transport.write(cmd, CmdOp.COMMIT | 8 << 16)  # to index 8 of a table of 8
    assert transport.read(status) == CmdErr.INDEX << 4
    transport.write(cmd, CmdOp.DELETE | 7 << 16)
    assert transport.read(status) == CmdErr.OK << 4


def test_command_while_busy_is_refused():
    transport, stub = bench(ready_prob=0.0)  # the datapath never takes the write
    regmap = rm.compile(N_SA=8, N_POLICY=8)
    cmd, status = regmap["spd_cmd"].address, regmap["spd_status"].address
    transport.write(cmd, CmdOp.COMMIT | 2 << 16)
    assert transport.read(status) == 1 | CmdErr.OK << 4  # busy
    transport.write(cmd, CmdOp.DELETE | 3 << 16)
    assert transport.read(status) == 1 | CmdErr.BUSY << 4  # still busy, the delete refused
    stub.ready_prob = 1.0
    transport.idle(4)
    assert transport.read(status) == CmdErr.BUSY << 4
    assert [w["index"] for w in stub.spd_writes] == [2]


def test_wishbone_byte_lanes_and_one_ack_per_cycle():
    """A master written here (not the transport's): partial writes, and `ack` exactly once per cycle."""
    regmap = rm.compile(N_SA=8, N_POLICY=8)
    dut = RegisterFile(regmap)
    spi = regmap["sa_stage.spi"].address // 4
    acks = []

    async def master(ctx):
        bus = dut.bus

        async def cycle(we, data=0, sel=0b1111):
            ctx.set(bus.adr, spi)
            ctx.set(bus.we, we)
            ctx.set(bus.dat_w, data)
            ctx.set(bus.sel, sel)
            ctx.set(bus.cyc, 1)
            ctx.set(bus.stb, 1)
            for wait in range(4):
                _, _, ack, dat_r = await ctx.tick().sample(bus.ack, bus.dat_r)
                if ack:
                    acks.append(wait)
                    break
            ctx.set(bus.cyc, 0)
            ctx.set(bus.stb, 0)
            _, _, ack = await ctx.tick().sample(bus.ack)
            assert not ack, "ack for a cycle that ended"
            return dat_r

        await cycle(1, 0x11223344)
        await cycle(1, 0xAABBCCDD, sel=0b0101)
        assert await cycle(0) == 0x11BB33DD
        await cycle(1, 0x00EE0000, sel=0b0100)
        assert await cycle(0) == 0x11EE33DD

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(master)
    sim.run()
    assert acks == [2] * 5  # two wait states, every cycle
