"""The one validation (docs/config.md, "Rules"): a configuration is accepted for a hardware
build if and only if both the reference model and the hardware take it, with the same message.

`validate` holds a whole configuration to every rule between its entries and against the
build; the reference model's loader (`espline.sim.model.Appliance.from_config`) and the host
driver's `load` call it, and the driver's single-entry commands (`add_sa`, `add_policy`) call
the same rules on the tables as they stand. What is wrong with an entry on its own its
constructor refuses (`SecurityAssociation`, `Selector`, `Policy`, `Options`).

What is accepted but unusual (an SA's `notices`: an SPI of 1..255) is a `ConfigWarning`, given
by `validate` for a configuration it accepts and by the driver's `add_sa`, through Python's
`warnings` (the `espline` command prints each as one line, `espline: warning: ...`).
"""

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from espline.regmap.spi_index import SpiIndex

from .build import DEFAULT_BUILD, Build
from .options import Options
from .policy import Policy
from .sa import SecurityAssociation

if TYPE_CHECKING:
    from .ike import IkeConfig


class ConfigError(ValueError):
    """A configuration refused: the message names the entry and field at fault."""


def check_fields(entry, allowed: set, where: str) -> None:
    """A configuration table: a clear error when it is not a table or has a field not in `allowed`."""
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a table, got {entry!r}")
    extra = sorted(set(entry) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown field {extra[0]!r}")


class ConfigWarning(UserWarning):
    """A configuration accepted, with something worth knowing: the message names the entry and field."""


def warn(sa: SecurityAssociation, where: str = "") -> None:
    """A `ConfigWarning` for each of `sa`'s notices, prefixed with `where` (e.g. "sa[0] ")."""
    for notice in sa.notices:
        warnings.warn(ConfigWarning(where + notice), stacklevel=3)


@dataclass
class Config:
    sas: list[SecurityAssociation] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    options: Options = Options()
    ike: "IkeConfig | None" = None  # the `[ike]` table (docs/ike.md), for `espline ike`


def check_sa(sa: SecurityAssociation, build: Build) -> None:
    """What the build can hold of one SA: an inbound SA's replay window fits the hardware's."""
    if sa.dir == "in" and sa.replay_window > build.window:
        raise ConfigError(f"replay_window: {sa.replay_window} is not 1..{build.window} (the hardware's window)")


def check_new_sa(sa: SecurityAssociation, sas: list[SecurityAssociation], build: Build, spis: SpiIndex,
                 index: int | None) -> None:
    """Whether `sa` may join the SAs `sas` at SA table `index`: a new (dir, SPI), room in the SA
    table, and - inbound - a slot in the SPI index `spis` as it stands (inserted there)."""
    check_sa(sa, build)
    if any((s.dir, s.spi) == (sa.dir, sa.spi) for s in sas):
        raise ConfigError(f"spi: {sa.spi:#x} ({sa.dir}) already exists")
    if len(sas) >= build.n_sa:
        raise ConfigError(f"sa: the SA table is full ({build.n_sa} entries)")
    check_inbound_sa_fits_spi_index(sa, spis, index)


def index_full(spi: int) -> str:
    return (f"spi: {spi:#x} (in) finds no free slot in the SA table's SPI index: both rows it hashes to "
            f"are full (docs/sa-table.md); choose another SPI")


def check_inbound_sa_fits_spi_index(sa: SecurityAssociation, spis: SpiIndex, index: int) -> None:
    """The hardware finds an inbound SA by its SPI through the SPI index, where an SPI has two
    rows of four slots (docs/sa-table.md): the SA is refused when both are full, as the
    hardware refuses its commit (error `full`). (Outbound SAs are found through their policy.)"""
    if sa.dir == "in" and not spis.insert(sa.spi, index):
        raise ConfigError(index_full(sa.spi))


def may_overlap(a: Policy, b: Policy) -> bool:
    """Whether two policies of one direction and priority may have overlapping selectors: only
    inbound protect policies naming different SAs (old and new SA of a rekey, RFC 4301 §4.4.2.1),
    whose order decides nothing: a decapsulated packet is admitted if any protect policy of its
    SA matches (RFC 4301 §5.2 step 4, `PolicyTable`'s `admitted`), and cleartext that either
    matches is dropped (it should have been ESP). Elsewhere the first match decides, so an
    overlap at one priority would leave it to the order of addition."""
    return a.dir == b.dir == "in" and a.action == b.action == "protect" and a.spi != b.spi


def check_policy(policy: Policy, sas: list[SecurityAssociation], policies: list[Policy], build: Build) -> None:
    """Whether `policy` may join the policies `policies` (SAs `sas`): a protect policy's SA
    exists, its selector overlaps no other policy's of its direction at its priority (but see
    `may_overlap`), and there is room in the SPD table."""
    if policy.action == "protect" and not any((s.dir, s.spi) == (policy.dir, policy.spi) for s in sas):
        raise ConfigError(f"spi: {policy.spi:#x} ({policy.dir}) does not exist")
    for i, p in enumerate(policies):
        if (p.dir == policy.dir and p.priority == policy.priority and p.selector.overlaps(policy.selector)
                and not may_overlap(p, policy)):
            raise ConfigError(f"priority: the selector overlaps policy {i} at the same priority "
                              f"{policy.priority} ({policy.dir}); give one of them another priority")
    if len(policies) >= build.n_policy:
        raise ConfigError(f"policy: the SPD table is full ({build.n_policy} entries)")


def validate(config: Config, build: Build = DEFAULT_BUILD) -> None:
    """ConfigError for the first rule `config` breaks on `build`, prefixed with the entry
    (`sa[1] spi: ...`, `policy[0] priority: ...`; "policy N" in a message is `policy[N]`)."""
    spis = SpiIndex(build.n_sa)  # a new table, loaded in the configuration's order, as the driver loads it
    for i, sa in enumerate(config.sas):
        try:
            check_new_sa(sa, config.sas[:i], build, spis, i)
        except ConfigError as e:
            raise ConfigError(f"sa[{i}] {e}") from None
    for i, policy in enumerate(config.policies):
        try:
            check_policy(policy, config.sas, config.policies[:i], build)
        except ConfigError as e:
            raise ConfigError(f"policy[{i}] {e}") from None
    for i, sa in enumerate(config.sas):
        warn(sa, f"sa[{i}] ")
