"""The SA table's commands keep keys safe (docs/registers-design.md): every command zeroes the
staged key and salt, a commit needs a key written since the last command and a free entry, an
update may change only the map's `update` fields of a valid entry and keeps its key."""

import pytest
from csr_tb import bench

from espline import regmap as rm
from espline.host.registers import Registers
from espline.regmap.enums import CmdErr, CmdOp

KEY = [0x00112233, 0x44556677, 0x8899AABB, 0xCCDDEEFF]


def setup():
    transport, stub = bench()
    return Registers(transport, rm.compile(N_SA=8, N_POLICY=8)), stub


def command(regs, op, index):
    regs.write("sa_cmd", op=op, index=index)
    while (status := regs.read("sa_status"))["busy"]:
        pass
    return CmdErr(status["error"])


def stage(regs, spi=0x1000, key=KEY, salt=0xCAFEBABE, **flags):
    regs.write("sa_stage.spi", value=spi)
    regs.write("sa_stage.flags", **{"dir": "out", "ttl": 64, **flags})
    for i, word in enumerate(key):
        regs.write(f"sa_stage.key[{i}]", value=word)
    if salt is not None:
        regs.write("sa_stage.salt", value=salt)


@pytest.mark.parametrize("before", [CmdOp.COMMIT, CmdOp.DELETE, CmdOp.FLUSH, CmdOp.FETCH],
                         ids=lambda op: op.name.lower())
def test_no_command_leaves_a_staged_key_behind(before):
    """After any command, a commit without a key written is refused (`nokey`), and key words not
    written again are zero: no entry is ever written with the last SA's key."""
    regs, stub = setup()
    stage(regs)
    assert command(regs, CmdOp.COMMIT, 7) == CmdErr.OK
    assert stub.sa_writes[-1]["entry"]["key"] == KEY + [0] * 4
    if before != CmdOp.COMMIT:
        assert command(regs, before, 7) == CmdErr.OK
    writes = len(stub.sa_writes)
    for key, salt in (([], None), ([], 1), (KEY[:1], None)):
        stage(regs, spi=0x1001, key=key, salt=salt)
        assert command(regs, CmdOp.COMMIT, 6) == CmdErr.NOKEY
    assert len(stub.sa_writes) == writes
    stage(regs, spi=0x1001, key=KEY[:1], salt=5)
    assert command(regs, CmdOp.COMMIT, 6) == CmdErr.OK
    assert stub.sa_writes[-1]["entry"]["key"] == KEY[:1] + [0] * 7 and stub.sa_writes[-1]["entry"]["salt"] == 5


def test_commit_never_replaces_a_live_sa():
    regs, stub = setup()
    stage(regs)
    assert command(regs, CmdOp.COMMIT, 7) == CmdErr.OK
    stage(regs, key=[1, 2, 3, 4])
    assert command(regs, CmdOp.COMMIT, 7) == CmdErr.EXISTS
    assert [w["entry"]["key"][:4] for w in stub.sa_writes] == [KEY]
    assert command(regs, CmdOp.DELETE, 7) == CmdErr.OK
    stage(regs, key=[1, 2, 3, 4])
    assert command(regs, CmdOp.COMMIT, 7) == CmdErr.OK


def test_a_commit_carries_the_starting_number_and_fetch_reads_it_back():
    """SA_STAGE.SEQ (replay-oseq / replay-seq, all 64 bits) goes to the SA table with the commit,
    and a fetch reads it back (a restarted driver knows what each SA started at)."""
    regs, stub = setup()
    stage(regs)
    regs.write("sa_stage.seq", value=(1 << 64) - 2)
    assert command(regs, CmdOp.COMMIT, 3) == CmdErr.OK
    assert stub.sa_writes[-1]["entry"]["seq"] == (1 << 64) - 2
    regs.write("sa_stage.seq", value=0)
    assert command(regs, CmdOp.FETCH, 3) == CmdErr.OK
    assert regs.read("sa_stage.seq")["value"] == (1 << 64) - 2


def test_update_changes_only_update_fields_of_a_valid_entry():
    """An update is refused (`invalid`) unless entry INDEX is valid and the staged entry differs
    from it only in fields with the map's `update` property; taken, it is flagged `update`."""
    regs, stub = setup()
    stage(regs)
    assert command(regs, CmdOp.UPDATE, 7) == CmdErr.INVALID  # no entry yet
    stage(regs)  # (the update zeroed the staged key)
    assert command(regs, CmdOp.COMMIT, 7) == CmdErr.OK
    for change in ({"spi": 0x1001}, {"dir": "in"}, {"mode": "transport"}, {"esn": 1}, {"icv_len": 8},
                   {"aes256": 1}):
        stage(regs, key=[], salt=None, **{"spi": 0x1000, **change})
        assert command(regs, CmdOp.UPDATE, 7) == CmdErr.INVALID, change
    regs.write("sa_stage.replay_window", size=64)
    stage(regs, key=[], salt=None)
    assert command(regs, CmdOp.UPDATE, 7) == CmdErr.INVALID
    regs.write("sa_stage.replay_window", size=128)
    regs.write("sa_stage.seq", value=1 << 40)  # the starting number: an update keeps the SA's
    stage(regs, key=[], salt=None)
    assert command(regs, CmdOp.UPDATE, 7) == CmdErr.INVALID
    regs.write("sa_stage.seq", value=0)
    assert len(stub.sa_writes) == 1
    stage(regs, key=[], salt=None, ttl=9, df="set", natt=1)
    regs.write("sa_stage.src", value=0x0A000001)
    regs.write("sa_stage.hard_packets", value=1000)
    assert command(regs, CmdOp.UPDATE, 7) == CmdErr.OK
    last = stub.sa_writes[-1]
    assert (last["update"], last["valid"], last["index"]) == (1, 1, 7)
    assert last["entry"]["flags"]["ttl"] == 9 and last["entry"]["hard_packets"] == 1000
    assert last["entry"]["key"] == [0] * 8  # the datapath keeps the entry's own key
    assert command(regs, CmdOp.UPDATE, 6) == CmdErr.INVALID
