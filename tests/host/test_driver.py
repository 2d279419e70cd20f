"""The host driver against the CSR gateware in simulation: what lands on the table ports,
atomic updates, refused configuration (with no bus cycle), counters and events."""

import ipaddress
from dataclasses import replace

import pytest
from csr_tb import bench, expected_sa_write, zero_entry

from espline.config import ConfigError, Event, load, parse_policy, parse_sa
from espline.host.driver import Espline
from espline.regmap import spi_index
from espline.regmap.enums import CmdOp
from espline.sim.model import GlobalCounters

KEY128 = "0x" + "00112233445566778899aabbccddeeff" + "cafebabe"
KEY256 = "0x" + "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" + "deadbeef"

SA_OUT = {"spi": 0x1000, "dir": "out", "src": "192.0.2.1", "dst": "198.51.100.2", "mode": "tunnel", "key": KEY128,
          "limits": {"soft_packets": 1000, "hard_packets": 2000, "soft_bytes": 1 << 40, "hard_bytes": 3 << 40},
          "df": "set", "ttl": 17, "replay_oseq": 0xFFFF0000}
SA_IN = {"spi": 0x2000, "dir": "in", "src": "198.51.100.2", "dst": "192.0.2.1", "mode": "transport", "key": KEY256,
         "icv": 96, "esn": True, "replay_window": 64, "encap": {"type": "espinudp", "sport": 4501, "dport": 4500},
         "replay_seq": (5 << 32) + 9}


def expected_policy_write(policy, index, sa_index):
    s = policy.selector
    src, dst = ipaddress.IPv4Network(s.src), ipaddress.IPv4Network(s.dst)
    return {"index": index, "valid": 1, "update": 0, "entry": {
        "flags": {"dir": {"in": 0, "out": 1}[policy.dir],
                  "action": {"discard": 0, "bypass": 1, "protect": 2}[policy.action],
                  "proto_any": int(s.proto is None), "proto": s.proto or 0},
        "priority": policy.priority,
        "src": int(src.network_address), "src_mask": int(src.netmask),
        "dst": int(dst.network_address), "dst_mask": int(dst.netmask),
        "sport": {"lo": s.sport[0], "hi": s.sport[1]}, "dport": {"lo": s.dport[0], "hi": s.dport[1]},
        "sa_index": sa_index,
    }}


@pytest.mark.parametrize("ready_prob", [1.0, 0.3])
def test_sas_land_on_the_table_port_bit_exact(ready_prob):
    transport, stub = bench(ready_prob=ready_prob, seed=2)
    dev = Espline(transport)
    assert (dev.n_sa, dev.n_policy, dev.window) == (8, 8, 128)
    i_out, i_in = dev.add_sa(SA_OUT), dev.add_sa(SA_IN)
    assert (i_out, i_in) == (7, 0)  # outbound: highest free index; inbound: lowest
    assert stub.sa_writes == [expected_sa_write(parse_sa(SA_OUT), 7), expected_sa_write(parse_sa(SA_IN), 0)]

    dev.delete_sa("out", 0x1000)
    deleted = stub.sa_writes[-1]
    assert deleted == {"index": 7, "valid": 0, "update": 0, "entry": zero_entry(deleted["entry"])}
    dev.flush_sas()
    assert [w["index"] for w in stub.sa_writes[-8:]] == list(range(8))
    assert all(w["valid"] == 0 and w["entry"] == zero_entry(w["entry"]) for w in stub.sa_writes[-8:])


def test_update_is_atomic_on_the_table_port():
    transport, stub = bench(ready_prob=0.2, seed=3)
    dev = Espline(transport)
    old = parse_sa(SA_OUT)
    dev.add_sa(old)
    new = parse_sa({**SA_OUT, "df": "clear", "ttl": 200, "src": "192.0.2.9", "limits": {"hard_bytes": 12345},
                    "encap": {"type": "espinudp", "sport": 4501, "dport": 4500}})
    # The update is staged register by register while the datapath keeps stalling the port.
    dev.update_sa(new)
    dev.add_sa(SA_IN)  # staging the next SA must not disturb entry 7 either
    good = [expected_sa_write(old, 7), expected_sa_write(new, 7, update=True)]
    offered_7 = [e for e in stub.sa_offered if e["index"] == 7]
    assert len(offered_7) > 2  # the port was held over several cycles
    assert all(e in good for e in offered_7)
    assert all(table[7] in good for table in stub.sa_table_history)
    assert stub.sa_table[7] == good[1]


@pytest.mark.parametrize(("change", "field"), [({"key": KEY256}, "key"), ({"key": KEY128[:-8] + "00000000"}, "key"),
                                               ({"mode": "transport"}, "mode"), ({"esn": True}, "esn"),
                                               ({"icv": 64}, "icv"), ({"replay_window": 64}, "replay_window"),
                                               ({"replay_oseq": 0}, "replay_oseq")])
def test_update_refuses_a_new_sa_by_name_without_a_bus_cycle(change, field):
    """An update keeps the key, salt, mode, ESN, ICV length, window and sequence number: changing
    one (or the starting number) is a new SA."""
    transport, stub = bench()
    dev = Espline(transport)
    dev.add_sa(SA_OUT)
    transport.idle(2)
    before = stub.bus_cycles
    message = ("an update keeps the SA's sequence numbers and replay window" if field == "replay_oseq"
               else "an update cannot change it; that is a new SA")
    with pytest.raises(ConfigError, match=rf"spi 0x1000 \(out\) {field}: {message}"):
        dev.update_sa({**SA_OUT, **change})
    with pytest.raises(ConfigError, match="spi: 0x1001 \\(out\\) does not exist"):
        dev.update_sa({**SA_OUT, "spi": 0x1001})
    transport.idle(2)
    assert stub.bus_cycles == before and len(stub.sa_writes) == 1


def test_load_changes_only_what_differs():
    """A second load of one configuration writes no table entry; a changed TTL is an update, a
    changed key a new SA (deleted, then added), a dropped SA is deleted; the policies are
    rewritten only when they or their SAs' places change."""
    transport, stub = bench()
    dev = Espline(transport)
    config = load("docs/examples/site-a.toml")
    assert dev.load(config.sas, config.policies) == [
        "added out spi 0x00001000", "added in spi 0x00002000", "policies rewritten: 3"]
    writes = (len(stub.sa_writes), len(stub.spd_writes))
    assert dev.load(config.sas, config.policies) == [
        "unchanged out spi 0x00001000", "unchanged in spi 0x00002000", "policies unchanged: 3"]
    assert Espline(transport).load(config.sas, config.policies)[:2] == [  # keys read back: not compared
        "unchanged out spi 0x00001000", "unchanged in spi 0x00002000"]
    assert (len(stub.sa_writes), len(stub.spd_writes)) == writes
    out, inbound = config.sas
    assert dev.load([replace(out, ttl=9), inbound], config.policies)[0] == "updated out spi 0x00001000"
    assert stub.sa_writes[-1] == expected_sa_write(replace(out, ttl=9), 7, update=True)
    assert len(stub.spd_writes) == writes[1]
    rekeyed = replace(inbound, key=bytes(range(36)))
    assert dev.load([replace(out, ttl=9), rekeyed], config.policies) == [
        "unchanged out spi 0x00001000", "replaced in spi 0x00002000", "policies rewritten: 3"]
    assert stub.sa_writes[-2:] == [{**stub.sa_writes[-2], "valid": 0}, expected_sa_write(rekeyed, 0)]
    policies = [p for p in config.policies if p.spi != 0x1000]
    assert dev.load([rekeyed], policies) == ["unchanged in spi 0x00002000", "deleted out spi 0x00001000",
                                             f"policies rewritten: {len(policies)}"]
    assert [sa.spi for sa in dev.sas if sa] == [0x2000] and stub.sa_table[7]["valid"] == 0


BAD_SAS = [
    ({**SA_OUT, "aead": "rfc4309(ccm(aes))"}, "aead"),
    ({**SA_OUT, "key": "0x0011"}, "key"),
    ({**SA_OUT, "spi": 0}, "spi"),
    ({**SA_OUT, "spi": 1 << 32}, "spi"),
    ({**SA_IN, "replay_window": 256}, "replay_window"),
    ({**SA_OUT, "icv": 100}, "icv"),
]


@pytest.mark.parametrize(("entry", "field"), BAD_SAS, ids=[f for _, f in BAD_SAS])
def test_bad_sa_refused_by_name_without_a_bus_cycle(entry, field):
    transport, stub = bench()
    dev = Espline(transport)
    transport.idle(2)
    before = stub.bus_cycles
    with pytest.raises(ConfigError, match=rf"\b{field}\b"):
        dev.add_sa(entry)
    transport.idle(2)
    assert stub.bus_cycles == before
    assert stub.sa_writes == []


def test_full_tables_duplicates_and_overlaps_refused_without_a_bus_cycle():
    transport, stub = bench(N_SA=2, N_POLICY=2)
    dev = Espline(transport)
    dev.add_sa(SA_OUT)
    dev.add_sa(SA_IN)
    policy = {"dir": "out", "src": "10.1.0.0/16", "dst": "10.2.0.0/16", "action": "protect", "spi": 0x1000,
              "priority": 5}
    dev.add_policy(policy)
    transport.idle(2)
    before = stub.bus_cycles
    refused = [
        (lambda: dev.add_sa({**SA_OUT, "spi": 0x3000}), "sa: the SA table is full"),
        (lambda: dev.add_sa(SA_OUT), "spi: 0x1000 \\(out\\) already exists"),
        (lambda: dev.add_policy({**policy, "src": "10.1.2.0/24", "action": "discard"}), "spi: a protect policy"),
        (lambda: dev.add_policy({**policy, "src": "10.1.2.0/24"}), "priority: the selector overlaps policy 0"),
        (lambda: dev.add_policy({**policy, "spi": 0x9999, "priority": 6}), "spi: 0x9999 \\(out\\) does not exist"),
        (lambda: dev.delete_sa("out", 0x1000), "used by a protect policy"),
    ]
    for call, message in refused:
        with pytest.raises(ValueError, match=message):
            call()
    dev.add_policy({"dir": "in", "action": "bypass", "priority": 6})
    transport.idle(2)
    after = stub.bus_cycles
    with pytest.raises(ConfigError, match="policy: the SPD table is full"):
        dev.add_policy({**policy, "priority": 7})
    transport.idle(2)
    assert stub.bus_cycles == after > before


def test_policies_kept_in_priority_order():
    transport, stub = bench()
    dev = Espline(transport)
    dev.add_sa(SA_OUT)
    entries = [
        {"dir": "out", "src": "10.1.0.0/16", "dst": "10.2.0.0/16", "action": "protect", "spi": 0x1000,
         "priority": 20},
        {"dir": "out", "src": "10.1.0.0/16", "dst": "10.2.0.0/16", "proto": "tcp", "dport": [22, 23],
         "action": "discard", "priority": 10},
        {"dir": "in", "action": "bypass", "proto": "udp", "sport": 500, "priority": 20},
        {"dir": "out", "action": "bypass", "proto": 1, "priority": 0},
    ]
    for e in entries:
        dev.add_policy(e)
    order = [3, 1, 0, 2]

    def sa_index(policy):
        return 7 if policy.action == "protect" else 0  # SA 0x1000 (out) at the highest index
    expected = {i: expected_policy_write(p, i, sa_index(p)) for i, p in
                enumerate(parse_policy(entries[k]) for k in order)}
    assert stub.spd_table == expected
    dev.delete_policy(1)
    assert stub.spd_table[3]["valid"] == 0
    assert [stub.spd_table[i] for i in range(3)] == [
        expected_policy_write(p, i, sa_index(p)) for i, p in enumerate(parse_policy(entries[k]) for k in [3, 0, 2])]


def test_counters_and_events():
    transport, stub = bench()
    dev = Espline(transport)
    names = list(GlobalCounters().as_dict())
    stub.global_counters = {n.replace("-", "_"): (i + 1) << 33 | i for i, n in enumerate(names)}
    stub.sa_counters[5] = {"packets": 7, "bytes": 1 << 36, "auth_fail": 3, "replay": 4, "seq": 1 << 32}
    transport.idle(2)
    assert dev.global_counters() == {n: (i + 1) << 33 | i for i, n in enumerate(names)}
    c = dev.sa_counters(5)
    assert (c.packets, c.bytes, c.auth_fail, c.replay, c.seq) == (7, 1 << 36, 3, 4, 1 << 32)
    assert dev.wait_event(0) is None
    stub.events.extend([(1, 5), (3, 2), (4, 1)])
    transport.idle(4)
    assert dev.wait_event(0) == (Event.SOFT_LIFETIME, 5)
    assert dev.wait_event(0) == (Event.SEQ_EXHAUSTED, 2)
    assert dev.wait_event(0) == ("auth_fail_threshold", 1)


def test_load_example_configuration():
    transport, stub = bench()
    dev = Espline(transport)
    config = load("docs/examples/site-a.toml")
    dev.load(config.sas, config.policies)
    assert stub.sa_table[7] == expected_sa_write(config.sas[0], 7)  # out
    assert stub.sa_table[0] == expected_sa_write(config.sas[1], 0)  # in: the lowest free index
    assert [stub.spd_table[i]["entry"]["priority"] for i in range(3)] == [10, 20, 20]


def test_a_new_driver_reads_the_tables_back():
    transport, stub = bench()
    dev = Espline(transport)
    config = load("docs/examples/site-a.toml")
    dev.load(config.sas, config.policies)
    dev.add_sa(SA_IN | {"spi": 0x3001})
    writes = len(stub.sa_writes) + len(stub.spd_writes)

    again = Espline(transport)  # a later session: it knows the tables only from the hardware
    assert len(stub.sa_writes) + len(stub.spd_writes) == writes  # reading back writes no table entry
    expected = [config.sas[1], parse_sa(SA_IN | {"spi": 0x3001}), config.sas[0]]  # index order: 0, 1, 7
    got = [sa for sa in again.sas if sa is not None]
    fields = ("spi", "dir", "src", "dst", "mode", "icv_bits", "esn", "replay_window", "encap", "lifetime", "ttl", "df",
              "replay_oseq", "replay_seq")
    assert [[getattr(sa, f) for f in fields] for sa in got] == [[getattr(sa, f) for f in fields] for sa in expected]
    assert all(sa.key == bytes(len(e.key)) for sa, e in zip(got, expected, strict=True))  # keys never read back
    assert again.policies == sorted(config.policies, key=lambda p: p.priority)
    # Fetch left zeros in the staged key and salt: the staging area as it is cannot be committed.
    with pytest.raises(RuntimeError, match="sa_cmd commit 6: hardware error nokey"):
        again._command("sa", CmdOp.COMMIT, 6)
    assert 6 not in stub.sa_table


def one_row_spis(n_sa: int, count: int) -> list[int]:
    """SPIs whose two candidate rows of the SPI index are both row 0 (docs/sa-table.md)."""
    spis = (s for s in range(0x1000, 1 << 32) if spi_index.hashes(s, spi_index.rows(n_sa)) == (0, 0))
    return [next(spis) for _ in range(count)]


def test_sa_indexes_and_spi_index_refusals():
    """Inbound SAs take the lowest free index, outbound the highest; an SPI whose rows of the
    SPI index are full is refused before any bus cycle, and fits again once one leaves."""
    transport, stub = bench()
    dev = Espline(transport)
    crowd = one_row_spis(8, spi_index.WAYS + 1)
    assert [dev.add_sa(SA_IN | {"spi": spi}) for spi in crowd[:2]] == [0, 1]
    assert dev.add_sa(SA_OUT) == 7
    assert [dev.add_sa(SA_IN | {"spi": spi}) for spi in crowd[2:-1]] == [2, 3]
    transport.idle(2)
    before = stub.bus_cycles
    with pytest.raises(ConfigError, match=f"spi: {crowd[-1]:#x} \\(in\\) finds no free slot in the SA table's SPI "
                                          "index: both rows it hashes to are full"):
        dev.add_sa(SA_IN | {"spi": crowd[-1]})
    transport.idle(2)
    assert stub.bus_cycles == before
    dev.delete_sa("in", crowd[1])
    assert dev.add_sa(SA_IN | {"spi": crowd[-1]}) == 1
    with pytest.raises(ConfigError, match=r"sa\[4\] spi: .* finds no free slot"):
        dev.load([SA_IN | {"spi": spi} for spi in crowd], [])


def test_a_refusal_by_the_hardware_reads_as_the_drivers():
    """A table whose SPI index the driver's copy does not know (e.g. after a restart) refuses
    with error full: the same ConfigError, and the driver's tables unchanged."""
    transport, stub = bench()
    dev = Espline(transport)
    stub.refuse.add(0x2000)
    with pytest.raises(ConfigError, match="spi: 0x2000 \\(in\\) finds no free slot"):
        dev.add_sa(SA_IN)
    assert dev.sas == [None] * 8 and dev.spis.find(0x2000) is None and stub.sa_table == {}
    assert dev.fetch_sa(0) is None  # the CSR block's copy of the table took nothing either
