"""The configuration file (docs/config.md) and the entries on their own: every field refused by
name, the example files as written."""

from pathlib import Path

import pytest

from espline.config import (
    ConfigError,
    ConfigWarning,
    Lifetime,
    NatT,
    Options,
    SecurityAssociation,
    Selector,
    load,
    parse,
    validate,
)

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"
BASE_SA = {"spi": 0x100, "dir": "out", "src": "1.2.3.4", "dst": "5.6.7.8", "mode": "tunnel", "key": "00" * 20}


def test_an_sa_entry_with_every_field():
    sa = parse({"sa": [{**BASE_SA, "dir": "in", "key": "0x" + "11" * 36, "icv": 96, "esn": True,
                        "replay_window": "64", "encap": {"type": "espinudp", "sport": 4501},
                        "limits": {"soft_packets": 10, "hard_bytes": "0x1000"}, "ttl": 9, "df": "set"}]}).sas[0]
    assert sa == SecurityAssociation(spi=0x100, dir="in", src="1.2.3.4", dst="5.6.7.8", mode="tunnel",
                                     key=bytes([0x11]) * 36, icv_bits=96, esn=True, replay_window=64,
                                     encap=NatT(4501, 4500), lifetime=Lifetime(soft_packets=10, hard_bytes=4096),
                                     ttl=9, df="set")


def test_a_policy_entry_names_its_protocol_and_ports():
    policy = parse({"policy": [{"dir": "out", "dst": "10.2.0.0/16", "proto": "tcp", "sport": 1024,
                                "dport": [22, 23], "action": "discard", "priority": 3}]}).policies[0]
    assert policy.selector == Selector(dst="10.2.0.0/16", proto=6, sport=(1024, 1024), dport=(22, 23))
    assert (policy.dir, policy.action, policy.spi, policy.priority) == ("out", "discard", None, 3)


def test_the_examples_are_mirror_images():
    """What site A sends under an SA, site B receives under the same SPI, addresses and key."""
    a, b = load(EXAMPLES / "site-a.toml"), load(EXAMPLES / "site-b.toml")
    assert a.options == b.options == Options()

    def received(config):
        return {(sa.spi, sa.src, sa.dst, sa.key) for sa in config.sas if sa.dir == "in"}

    def sent(config):
        return {(sa.spi, sa.src, sa.dst, sa.key) for sa in config.sas if sa.dir == "out"}
    assert sent(a) == received(b) and sent(b) == received(a) and len(sent(a)) == len(sent(b)) == 1


@pytest.mark.parametrize("edit,message", [
    ({"aead": "rfc4106(gcm(des))"}, "sa[0] aead"),
    ({"key": "00" * 17}, "sa[0] key"),
    ({"key": "00" * 19}, "sa[0] key"),
    ({"key": "00" * 21}, "sa[0] key"),
    ({"key": "00" * 35}, "sa[0] key"),
    ({"key": "00" * 37}, "sa[0] key"),
    ({"key": "zz"}, "sa[0] key"),
    ({"spi": 0}, "sa[0] spi"),
    ({"spi": 1 << 32}, "sa[0] spi"),
    ({"icv": 0}, "sa[0] icv"),
    ({"icv": 32}, "sa[0] icv"),
    ({"icv": 100}, "sa[0] icv"),
    ({"icv": 256}, "sa[0] icv"),
    ({"mode": "tunel"}, "sa[0] mode"),
    ({"mode": "beet"}, "sa[0] mode"),
    ({"dir": "fwd"}, "sa[0] dir"),
    ({"src": "10.0.0"}, "sa[0] src"),
    ({"dst": "10.0.0.0/8"}, "sa[0] dst"),
    ({"ttl": 0}, "sa[0] ttl"),
    ({"df": "maybe"}, "sa[0] df"),
    ({"replay_window": 0}, "sa[0] replay_window"),
    ({"replay_window": "big"}, "sa[0] replay_window"),
    ({"colour": "red"}, "sa[0] sa: unknown field 'colour'"),
    ({"encap": {"type": "espintcp"}}, "sa[0] encap"),
    ({"limits": {"hard_pakets": 3}}, "sa[0] limits"),
])
def test_sa_errors_name_the_field(edit, message):
    with pytest.raises(ConfigError) as e:
        parse({"sa": [{**BASE_SA, **edit}]})
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("spi", [1, 5, 6, 255])
def test_an_spi_of_1_to_255_is_taken_with_a_warning(spi):
    """RFC 4303 §2.1 reserves 1..255 to IANA; manual keying uses them (DPDK's ipsec-secgw: 5, 6)."""
    config = parse({"sa": [{**BASE_SA, "spi": spi}]})
    assert config.sas[0].spi == spi
    with pytest.warns(ConfigWarning) as given:
        validate(config)
    assert [str(w.message) for w in given] == [
        f"sa[0] spi: {spi:#x} is in 1..255, reserved by IANA for future use (RFC 4303 §2.1); accepted for manual "
        f"keying, as Linux accepts it: no IKE peer chooses it"]


def test_an_spi_from_256_on_is_taken_without_a_warning(recwarn):
    validate(parse({"sa": [{**BASE_SA, "spi": 256}, {**BASE_SA, "spi": 0xFFFFFFFF}]}))
    assert not recwarn.list


@pytest.mark.parametrize("dir,field,esn,value", [
    ("out", "replay_oseq", False, 1000), ("out", "replay_oseq", False, (1 << 32) - 2),
    ("out", "replay_oseq", True, (1 << 64) - 2), ("in", "replay_seq", False, 7), ("in", "replay_seq", True, 1 << 40)])
def test_starting_sequence_numbers(dir, field, esn, value):
    """replay_oseq (out) and replay_seq (in), as `ip xfrm state ... replay-oseq N replay-seq N`;
    64 bits with ESN, beyond TOML's signed integers as a string."""
    sa = parse({"sa": [{**BASE_SA, "dir": dir, "esn": esn, field: hex(value)}]}).sas[0]
    assert getattr(sa, field) == sa.start == value


@pytest.mark.parametrize("edit,message", [
    ({"replay_oseq": (1 << 32) - 1}, "sa[0] replay_oseq: 4294967295 is not 0..4294967294: sequence numbers never "
                                     "wrap (RFC 4303 §3.3.3), so the next one, replay_oseq + 1, is at most "
                                     "4294967295 without esn"),
    ({"replay_oseq": hex((1 << 64) - 1), "esn": True}, "sa[0] replay_oseq: 18446744073709551615 is not "
                                                         "0..18446744073709551614"),
    ({"replay_oseq": -1}, "sa[0] replay_oseq: -1 is not 0..4294967294"),
    ({"replay_seq": 5}, "sa[0] replay_seq: an outbound SA has none (its starting number is replay_oseq)"),
    ({"dir": "in", "replay_oseq": 5}, "sa[0] replay_oseq: an inbound SA has none (its starting number is replay_seq)"),
    ({"dir": "in", "replay_seq": (1 << 32) - 1}, "sa[0] replay_seq: 4294967295 is not 0..4294967294"),
    ({"replay_oseq": "many"}, "sa[0] replay_oseq: expected a number"),
])
def test_a_starting_number_that_would_wrap_or_belongs_to_the_other_direction_is_refused(edit, message):
    with pytest.raises(ConfigError) as e:
        parse({"sa": [{**BASE_SA, **edit}]})
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("dir,field", [("out", "replay_oseq"), ("in", "replay_seq")])
def test_an_update_keeps_the_starting_number(dir, field):
    """An update keeps the SA's sequence number and window (docs/invariants.md §7): a different
    starting number is refused; the same one (restated) is not a change."""
    old = parse({"sa": [{**BASE_SA, "dir": dir, field: 100}]}).sas[0]
    old.check_update(parse({"sa": [{**BASE_SA, "dir": dir, field: 100, "ttl": 9}]}).sas[0])
    with pytest.raises(ValueError, match=f"^{field}: an update keeps the SA's sequence numbers and replay window"):
        old.check_update(parse({"sa": [{**BASE_SA, "dir": dir, field: 101}]}).sas[0])


def test_a_missing_sa_field_is_named():
    entry = dict(BASE_SA)
    del entry["key"]
    with pytest.raises(ConfigError, match=r"^sa\[0\] sa: missing field 'key'$"):
        parse({"sa": [entry]})


@pytest.mark.parametrize("policy,message", [
    ({"dir": "out", "action": "protect"}, "policy[0] spi"),
    ({"dir": "out", "action": "bypass", "spi": 0x100}, "policy[0] spi"),
    ({"dir": "out", "action": "allow"}, "policy[0] action"),
    ({"dir": "out", "action": "bypass", "src": "10.0.0.0/33"}, "policy[0] src"),
    ({"dir": "out", "action": "bypass", "dport": [90, 80]}, "policy[0] dport"),
    ({"dir": "out", "action": "bypass", "sport": [1, 2, 3]}, "policy[0] sport"),
    ({"dir": "out", "action": "bypass", "proto": 256}, "policy[0] proto"),
    ({"dir": "sideways", "action": "bypass"}, "policy[0] dir"),
    ({"action": "bypass"}, "policy[0] policy: missing field 'dir'"),
    ({"dir": "out", "action": "bypass", "tmpl": 1}, "policy[0] policy: unknown field 'tmpl'"),
])
def test_policy_errors_name_the_field(policy, message):
    with pytest.raises(ConfigError) as e:
        parse({"policy": [policy]})
    assert str(e.value).startswith(message)


@pytest.mark.parametrize("options,message", [
    ({"default_policy": "protect"}, "appliance default_policy"),
    ({"ipv6": "protect"}, "appliance ipv6"),
    ({"mtu": 575}, "appliance mtu"),
    ({"mtu": 65536}, "appliance mtu"),
    ({"colour": "red"}, "appliance: unknown field 'colour'"),
])
def test_appliance_errors_name_the_field(options, message):
    with pytest.raises(ConfigError) as e:
        parse({"appliance": options})
    assert str(e.value).startswith(message)


def test_a_file_that_is_not_toml_is_named(tmp_path):
    (tmp_path / "bad.toml").write_text("[[sa]\n")
    with pytest.raises(ConfigError, match="bad.toml"):
        load(tmp_path / "bad.toml")
