"""The one validation (docs/config.md, "Rules"): every rule with its message, and the reference
model and the host driver refusing the same configurations with the same message."""

import itertools
import re

import pytest

from espline import regmap as rm
from espline.config import (
    Build,
    Config,
    ConfigError,
    ConfigWarning,
    Policy,
    SecurityAssociation,
    Selector,
    parse,
    validate,
)
from espline.config.build import DEFAULT_BUILD
from espline.host.driver import Espline
from espline.regmap import spi_index
from espline.sim.model import Appliance, Port, Verdict
from espline.sim.traffic import ethernet, ip_packet

KEY = bytes(20)


def sa(spi, dir="out", **fields):
    return SecurityAssociation(spi=spi, dir=dir, src="192.0.2.1", dst="198.51.100.2", mode="tunnel", key=KEY,
                               **fields)


def protect(spi, dir="out", priority=0, **selector):
    return Policy(dir, Selector(**selector), "protect", spi, priority)


def refusal(config: Config, build: Build = DEFAULT_BUILD) -> str | None:
    """The message `validate` refuses `config` with, None if it accepts it."""
    try:
        validate(config, build)
    except ConfigError as e:
        return str(e)
    return None


# -- SAs --------------------------------------------------------------------------------------

def test_an_inbound_replay_window_fits_the_hardware():
    assert refusal(Config([sa(0x100, "in", replay_window=129)]), Build(window=128)) == \
        "sa[0] replay_window: 129 is not 1..128 (the hardware's window)"
    assert refusal(Config([sa(0x100, "in", replay_window=128)]), Build(window=128)) is None
    assert refusal(Config([sa(0x100, "out", replay_window=1024)]), Build(window=128)) is None  # not used outbound


def test_an_sa_is_named_once_per_direction():
    assert refusal(Config([sa(0x100), sa(0x200), sa(0x100)])) == "sa[2] spi: 0x100 (out) already exists"
    assert refusal(Config([sa(0x100, "out"), sa(0x100, "in")])) is None


def test_the_sas_fit_the_sa_table():
    assert refusal(Config([sa(0x100), sa(0x101)]), Build(n_sa=2)) is None
    assert refusal(Config([sa(0x100), sa(0x101), sa(0x102)]), Build(n_sa=2)) == \
        "sa[2] sa: the SA table is full (2 entries)"


def one_row_spis(n_sa: int, count: int, row: int = 0) -> list[int]:
    """SPIs whose two rows of the SPI index are both `row` (docs/sa-table.md): the fifth finds no slot."""
    n_rows = spi_index.rows(n_sa)
    return list(itertools.islice((s for s in itertools.count(0x1000) if spi_index.hashes(s, n_rows) == (row, row)),
                                 count))


def test_inbound_sas_fit_the_spi_index():
    """Two SPIs a strongSwan peer really chose (issue 12) once needed one SA table index (their low
    bytes are 0x7b): any SPI fits now. Five whose rows are all one row of four slots do not."""
    first, second = 0x4A815B7B, 0x90CDAC7B
    assert refusal(Config([sa(first, "in"), sa(second, "in")]), Build(n_sa=256)) is None
    assert refusal(Config([sa(first, "in"), sa(second, "in")]), Build(n_sa=2)) is None
    crowd = one_row_spis(8, 5)
    assert refusal(Config([sa(spi, "in") for spi in crowd[:4]]), Build(n_sa=8)) is None
    assert refusal(Config([sa(spi, "in") for spi in crowd]), Build(n_sa=8)) == (
        f"sa[4] spi: {crowd[4]:#x} (in) finds no free slot in the SA table's SPI index: both rows it hashes to "
        "are full (docs/sa-table.md); choose another SPI")
    assert refusal(Config([sa(spi, "in") for spi in crowd[:4]] + [sa(crowd[4], "out")]), Build(n_sa=8)) is None


# -- policies ---------------------------------------------------------------------------------

def test_a_protect_policy_names_an_sa_of_its_direction():
    sas = [sa(0x100, "out"), sa(0x200, "in")]
    assert refusal(Config(sas, [protect(0x100), protect(0x200, "in")])) is None
    assert refusal(Config(sas, [protect(0x100), protect(0x999)])) == "policy[1] spi: 0x999 (out) does not exist"
    assert refusal(Config(sas, [protect(0x200, "out")])) == "policy[0] spi: 0x200 (out) does not exist"


OVERLAP = "the selector overlaps policy 0 at the same priority 5"


@pytest.mark.parametrize("first,second,message", [
    (protect(0x100, priority=5, dst="10.2.0.0/16"), protect(0x101, priority=5, dst="10.2.3.0/24"), f"{OVERLAP} (out)"),
    (protect(0x100, priority=5), Policy("out", Selector(proto=6), "bypass", priority=5), f"{OVERLAP} (out)"),
    (protect(0x200, "in", 5), Policy("in", Selector(dst="10.1.0.0/16"), "bypass", priority=5), f"{OVERLAP} (in)"),
    (protect(0x200, "in", 5), protect(0x200, "in", 5, dport=(22, 22)), f"{OVERLAP} (in)"),  # one SA twice
    (protect(0x100, priority=5), protect(0x101, priority=6), None),
    (protect(0x100, priority=5, dst="10.2.0.0/16"), protect(0x101, priority=5, dst="10.3.0.0/16"), None),
    (protect(0x100, priority=5, proto=6), protect(0x101, priority=5, proto=17), None),
    (protect(0x100, priority=5, dport=(1, 100)), protect(0x101, priority=5, dport=(101, 200)), None),
    (protect(0x100, priority=5), protect(0x200, "in", 5), None),
    (protect(0x200, "in", 5), protect(0x201, "in", 5), None),  # a rekey: old and new inbound SA of one flow
], ids=["out-protect", "out-protect-bypass", "in-protect-bypass", "in-one-sa", "priorities", "addresses",
        "protocols", "ports", "directions", "in-rekey"])
def test_overlapping_selectors_at_one_priority(first, second, message):
    sas = [sa(0x100), sa(0x101), sa(0x200, "in"), sa(0x201, "in")]
    want = f"policy[1] priority: {message}; give one of them another priority" if message else None
    assert refusal(Config(sas, [first, second])) == want


def test_the_policies_fit_the_spd_table():
    policies = [Policy("out", Selector(dst=f"10.{i}.0.0/16"), "discard") for i in range(3)]
    assert refusal(Config([], policies[:2]), Build(n_policy=2)) is None
    assert refusal(Config([], policies), Build(n_policy=2)) == "policy[2] policy: the SPD table is full (2 entries)"


# -- the model and the driver agree -----------------------------------------------------------

class RegisterFile:
    """A transport that is a plain register file: writes are kept (and counted), reads give the last
    value written or the build's reset value, so the CAP_* registers report `params` and every
    command's status reads done without error. No datapath behind it: enough for what the driver
    decides before and while it writes."""

    def __init__(self, **params):
        regmap = rm.compile(**params)
        self.words = {}
        for r in regmap.registers:
            reset = sum(f.reset << f.lsb for f in r.fields)
            self.words.update({r.address + 4 * i: reset >> (32 * i) & 0xFFFFFFFF for i in range(r.words)})
        self.writes = 0

    def read(self, address: int) -> int:
        return self.words[address]

    def write(self, address: int, value: int) -> None:
        self.words[address] = value
        self.writes += 1


PARAMS = {"N_SA": 8, "N_POLICY": 3, "WINDOW": 128}
BUILD = Build(n_sa=8, n_policy=3, window=128)
REKEY = [sa(0x100), sa(0x200, "in"), sa(0x201, "in")]
# five SPIs of a row no SA of REKEY may use
CROWD = one_row_spis(8, 5, row=next(r for r in range(4) if all(r not in spi_index.hashes(s.spi, 4) for s in REKEY)))
CONFIGS = {
    "accepted-rekey": Config(REKEY, [protect(0x100, priority=1), protect(0x200, "in", 1), protect(0x201, "in", 1)]),
    "window": Config([sa(0x200, "in", replay_window=129)]),
    "duplicate": Config([sa(0x100), sa(0x100)]),
    "sa-table": Config([sa(0x100 + i) for i in range(9)]),
    "spi-index": Config([sa(spi, "in") for spi in CROWD]),
    "no-sa": Config(REKEY, [protect(0x101)]),
    "overlap": Config(REKEY, [protect(0x100, priority=1), Policy("out", Selector(), "bypass", priority=1)]),
    "spd-table": Config(REKEY, [Policy("out", Selector(dst=f"10.{i}.0.0/16"), "discard") for i in range(4)]),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_model_and_driver_refuse_alike(name):
    """What `Appliance.from_config` refuses on a build, the driver's `load` on that build refuses
    with the same message and without a write; what one takes, the other takes."""
    config, transport = CONFIGS[name], RegisterFile(**PARAMS)
    driver = Espline(transport, scan=False)
    assert driver.build == BUILD
    messages = []
    for load in (lambda: Appliance.from_config(config, BUILD), lambda: driver.load(config.sas, config.policies)):
        try:
            load()
            messages.append(None)
        except ConfigError as e:
            messages.append(str(e))
    assert messages[0] == messages[1] == refusal(config, BUILD)
    assert (messages[0] is None) == name.startswith("accepted") and (transport.writes > 0) == (messages[0] is None)


def test_model_and_driver_warn_alike_of_spis_1_to_255():
    """SPIs 5 and 6 (DPDK's ipsec-secgw sample): the model's loader, the driver's `load` and its
    `add_sa` take them, each with the validation's warning, and write them."""
    config = Config([sa(5), sa(6, "in")], [protect(5), protect(6, "in")])
    given = []
    for load in (lambda: Appliance.from_config(config, BUILD),
                 lambda: Espline(RegisterFile(**PARAMS), scan=False).load(config.sas, config.policies)):
        with pytest.warns(ConfigWarning) as warned:
            load()
        given.append([str(w.message) for w in warned])
    assert given[0] == given[1] == [f"sa[{i}] spi: {spi:#x} is in 1..255, reserved by IANA for future use "
                                    f"(RFC 4303 §2.1); accepted for manual keying, as Linux accepts it: no IKE "
                                    f"peer chooses it" for i, spi in enumerate((5, 6))]
    transport = RegisterFile(**PARAMS)
    with pytest.warns(ConfigWarning, match=r"^spi: 0x6 is in 1\.\.255"):
        Espline(transport, scan=False).add_sa(sa(6, "in"))
    assert transport.words[rm.compile(**PARAMS)["sa_stage.spi"].address] == 6


def test_driver_commands_refuse_as_the_validation_does():
    """`add_sa` / `add_policy` on the tables as they stand give the rule's message, entry by entry."""
    driver = Espline(RegisterFile(**PARAMS), scan=False)
    for entry in REKEY:
        driver.add_sa(entry)
    driver.add_policy(protect(0x200, "in", 1))
    driver.add_policy(protect(0x201, "in", 1))  # the rekey's second inbound policy
    for spi in CROWD[:4]:
        driver.add_sa(sa(spi, "in"))
    refusals = [
        (lambda: driver.add_sa(sa(0x100)), "spi: 0x100 (out) already exists"),
        (lambda: driver.add_sa(sa(CROWD[4], "in")), f"spi: {CROWD[4]:#x} (in) finds no free slot"),
        (lambda: driver.add_sa(sa(0x203, "in", replay_window=129)), "replay_window: 129 is not 1..128"),
        (lambda: driver.add_policy(Policy("in", Selector(), "bypass", priority=1)), "priority: the selector overlaps "
                                                                                    "policy 0 at the same priority 1"),
        (lambda: driver.add_policy(protect(0x101)), "spi: 0x101 (out) does not exist"),
    ]
    for call, message in refusals:
        with pytest.raises(ConfigError, match="^" + re.escape(message)):
            call()


def test_a_rekey_the_validation_takes_carries_both_sas_in_the_model():
    """Site B during a rekey: old and new inbound SA of one flow, each with its policy on the same
    selector and priority. Accepted, and the model admits what site A sends under either."""
    entry = {"dir": "in", "src": "198.51.100.2", "dst": "192.0.2.1", "mode": "tunnel"}
    keys = {0x1000: "0x" + "11" * 20, 0x3001: "0x" + "22" * 20}
    site_b = Appliance.from_config(parse({
        "sa": [{**entry, "spi": spi, "key": key} for spi, key in keys.items()],
        "policy": [{"dir": "in", "src": "10.1.0.0/16", "dst": "10.2.0.0/16", "action": "protect", "spi": spi,
                    "priority": 20} for spi in keys]}))
    for spi, key in keys.items():
        site_a = Appliance.from_config(parse({
            "sa": [{**entry, "dir": "out", "spi": spi, "key": key}],
            "policy": [{"dir": "out", "src": "10.1.0.0/16", "dst": "10.2.0.0/16", "action": "protect", "spi": spi}]}))
        inner = ethernet(ip_packet(100, "10.1.0.5", "10.2.0.9"))
        wire = site_a.process(Port.PLAIN, inner)
        assert int.from_bytes(wire.frame[34:38], "big") == spi
        assert site_b.process(Port.CIPHER, wire.frame) == Verdict(Port.PLAIN, inner)
