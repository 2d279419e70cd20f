"""Child SAs through the real driver onto the CSR gateware's table ports (Amaranth's simulator,
the CSR bench's stand-in datapath): what lands in the SA and SPD tables, and the make-before-
break rekey replayed write by write: after every SPD write the flow's first outbound match is a
protect policy of the old or the new SA, never none."""

import ipaddress

from csr_tb import bench

from espline.host.driver import Espline
from espline.host.ike.installer import PRIORITY, DriverInstaller, selectors
from espline.host.ike.message import TrafficSelector
from espline.host.ike.proposals import Suite

LOCAL = TrafficSelector(0, 0, 65535, int(ipaddress.IPv4Address("10.1.0.0")), int(ipaddress.IPv4Address("10.1.255.255")))
REMOTE = TrafficSelector(0, 0, 65535, int(ipaddress.IPv4Address("10.2.0.0")), int(ipaddress.IPv4Address("10.2.0.255")))


class Child:  # the fields of `espline.host.ike.sa.ChildSa` the installer reads
    def __init__(self, spi_in, spi_out, seed):
        self.spi_in, self.spi_out = spi_in, spi_out
        self.key_in, self.key_out = bytes([seed]) * 20, bytes([seed + 1]) * 20
        self.esn, self.suite = True, Suite(20, 128, None, None, None, True)
        self.local_addr, self.remote_addr = "192.0.2.1", "198.51.100.2"
        self.local_ts, self.remote_ts = [LOCAL], [REMOTE]
        self.encap = (4500, 4500)
        self.outbound = True
        self.rekey_bytes, self.life_bytes, self.rekey_packets, self.life_packets = 0, 0, 1000, 2000


def first_outbound_match(table, src, dst):
    for index in sorted(table):
        e = table[index]
        if not e["valid"]:
            continue
        f = e["entry"]
        if f["flags"]["dir"] == 1 and src & f["src_mask"] == f["src"] and dst & f["dst_mask"] == f["dst"]:
            return f
    return None


def installed(spi_out=0x1111, seed=1):
    """The CSR bench, its driver and installer, and one Child SA installed both ways."""
    transport, stub = bench(N_SA=8, N_POLICY=8)
    dev = Espline(transport)
    inst = DriverInstaller(dev)
    child = Child(inst.allocate_spi(), spi_out, seed)
    inst.install_inbound(child)
    inst.install_outbound(child)
    return transport, stub, dev, inst, child


def test_selectors_are_prefix_pairs_both_ways():
    odd = TrafficSelector(6, 80, 80, int(ipaddress.IPv4Address("10.1.0.1")), int(ipaddress.IPv4Address("10.1.0.2")))
    child = Child(0x100, 0x200, 1)
    child.local_ts = [odd]
    pairs = selectors(child)
    assert [(o.src, o.dst, o.proto, o.sport) for o, _ in pairs] == [
        ("10.1.0.1/32", "10.2.0.0/24", 6, (80, 80)), ("10.1.0.2/32", "10.2.0.0/24", 6, (80, 80))]
    assert all((i.src, i.dst, i.dport) == (o.dst, o.src, o.sport) for o, i in pairs)


def test_install_and_make_before_break_on_the_table_ports():
    transport, stub, dev, inst, old = installed()
    old_in, old_out = (dev.sa_index(d, s) for d, s in (("in", old.spi_in), ("out", old.spi_out)))
    assert stub.sa_table[old_in]["entry"]["key"] != stub.sa_table[old_out]["entry"]["key"]
    assert stub.sa_table[old_out]["entry"]["flags"]["natt"] == 1
    assert [p.priority for p in dev.policies] == [PRIORITY, PRIORITY]

    new = Child(inst.allocate_spi(), 0x2222, 5)
    inst.install_inbound(new)
    writes_before = len(stub.spd_writes)
    inst.install_outbound(new, replacing=old)
    new_out = dev.sa_index("out", 0x2222)
    table = {}
    for entry in stub.spd_writes[:writes_before]:
        table[entry["index"]] = entry
    src, dst = int(ipaddress.IPv4Address("10.1.0.1")), int(ipaddress.IPv4Address("10.2.0.1"))
    seen = []
    for entry in stub.spd_writes[writes_before:]:
        table[entry["index"]] = entry
        match = first_outbound_match(table, src, dst)
        assert match is not None and match["flags"]["action"] == 2  # protect, every step
        assert match["sa_index"] in (old_out, new_out)
        seen.append(match["sa_index"])
    assert seen[-1] == new_out and old_out in seen  # the switch happened within these writes
    assert stub.sa_table[old_out]["valid"] == 0  # the old outbound SA went after the switch
    assert sorted((p.dir, p.spi, p.priority) for p in dev.policies) == sorted(
        [("in", old.spi_in, PRIORITY), ("in", new.spi_in, PRIORITY), ("out", 0x2222, PRIORITY)])
    inst.remove_inbound(old)
    assert stub.sa_table[old_in]["valid"] == 0
    assert sorted(p.spi for p in dev.policies) == sorted([new.spi_in, 0x2222])


def test_the_appliances_events_as_the_daemon_takes_them():
    """The event register's kinds as the driver reads them, named as the daemon acts on them."""
    transport, stub, dev, inst, child = installed()
    out_index, in_index = dev.sa_index("out", 0x1111), dev.sa_index("in", child.spi_in)
    stub.events.extend([(1, out_index), (2, in_index), (3, out_index), (4, in_index), (1, 6)])  # 6: no SA
    transport.idle(6)
    assert inst.events() == [("soft-lifetime", "out", 0x1111), ("hard-lifetime", "in", child.spi_in),
                             ("seq-exhausted", "out", 0x1111), ("auth_fail_threshold", "in", child.spi_in)]


def test_new_nat_ports_are_an_update_in_place():
    """The peer's NAT mapping moved: both SAs are rewritten by SA_CMD update (no key, the datapath
    keeps the entry's key, sequence number and window), with the new UDP ports."""
    transport, stub, dev, inst, child = installed()
    writes = len(stub.sa_writes)
    child.encap = (4500, 4501)
    inst.update_encap(child)
    updates = stub.sa_writes[writes:]
    assert [(w["update"], w["entry"]["spi"], w["entry"]["natt_ports"]) for w in updates] == [
        (1, child.spi_in, {"lo": 4501, "hi": 4500}), (1, 0x1111, {"lo": 4500, "hi": 4501})]
    assert all(w["entry"]["key"] == [0] * 8 for w in updates)  # an update carries no key
