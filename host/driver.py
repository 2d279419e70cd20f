"""The espline host driver: SAs, policies, counters and events over any transport.

Configuration is validated before anything reaches the hardware, by the one validation the
reference model uses too (`espline.config`, docs/config.md): SAs and policies are built from
the same dicts as the TOML configuration (`parse_sa`, `parse_policy`), so one path names every
bad field, and held to the rules between entries and against this build's limits (`Build`, from
the CAP_* registers) with the model's messages. A refused request writes nothing.

SA table: one index per SA, allocated here: an inbound SA at the lowest free index, an outbound
SA at the highest. The hardware finds inbound SAs through its SPI index (docs/sa-table.md); the
driver keeps a copy (`spis`) to refuse an SPI that finds no slot before writing anything, and
the hardware's own refusal (error `full`) reads the same. `update_sa` is `ip xfrm state update`:
one SA_CMD update rewrites the SA's mutable fields (`espline.config.sa.MUTABLE`) and the
hardware keeps its key, sequence number and replay window - never two frames under one (key,
nonce); a new key is a new SA. A new SA starts at its configured number (`replay_oseq` out,
`replay_seq` in: SA_STAGE.SEQ, docs/config.md); an update restates it unchanged. `load`
changes only what differs from what is loaded.
SPD table: searched in index order, first match wins, so the driver keeps it sorted by
priority (ties in order of addition). Inserting shifts the entries below one place down, from
the last up, and only then writes the new one; at every step a lookup sees a policy set that
is either the old or the new one, each with an adjacent duplicate at most.
"""

import copy
import ipaddress
import time
from dataclasses import dataclass, replace

from espline.config import Build, ConfigError, Event, Lifetime, NatT, Policy, SecurityAssociation, Selector
from espline.config.sa import MUTABLE
from espline.config.schema import parse, parse_policy, parse_sa
from espline.config.validation import check_new_sa, check_policy, check_sa, index_full, validate, warn
from espline.host.registers import Registers
from espline.host.transport import Transport
from espline.regmap.enums import MAGIC, CmdErr, CmdOp
from espline.regmap.enums import Event as MapEvent
from espline.regmap.spi_index import SpiIndex

#: The map's event names (as `poll_event` gives them) -> the model's events of the same name.
EVENTS = {name.lower(): Event[name] for name in MapEvent.__members__ if name in Event.__members__}


class HardwareError(RuntimeError):
    """A table command the hardware refused, with its error (the map's cmd_err_e)."""

    def __init__(self, command: str, error: CmdErr):
        super().__init__(f"{command}: hardware error {error.name.lower()}")
        self.error = error


@dataclass
class SaCounters:
    packets: int
    bytes: int
    auth_fail: int
    replay: int
    seq: int


class Espline:
    """`scan` reads both tables back (fetch commands) so the driver continues where the last left off."""

    def __init__(self, transport: Transport, *, scan: bool = True, poll_limit: int = 10000):
        self.regs = Registers(transport)
        self.poll_limit = poll_limit
        magic = self.regs.read("id")["magic"]
        if magic != MAGIC:
            raise ConnectionError(f"no espline here: ID reads {magic:#010x}, expected {MAGIC:#010x}")
        tables, datapath = self.regs.read("cap_tables"), self.regs.read("cap_datapath")
        self.n_sa, self.n_policy = tables["n_sa"], tables["n_policy"]
        self.window = datapath["window"]
        self.build = Build(self.n_sa, self.n_policy, self.window, self.regs.read("cap_frame")["max_frame"])
        self.sas: list[SecurityAssociation | None] = [None] * self.n_sa
        self.policies: list[Policy] = []
        self.spis = SpiIndex(self.n_sa)
        if scan:
            self.sas = [self.fetch_sa(i) for i in range(self.n_sa)]
            for index, sa in enumerate(self.sas):  # the order of past commits is unknown: index order
                if sa is not None and sa.dir == "in":
                    self.spis.insert(sa.spi, index)
            policies = [self.fetch_policy(i) for i in range(self.n_policy)]
            self.policies = [p for p in policies if p is not None]

    # -- SAs -------------------------------------------------------------------------------

    def sa_index(self, dir: str, spi: int, sas=None) -> int:
        for i, sa in enumerate(self.sas if sas is None else sas):
            if sa is not None and (sa.dir, sa.spi) == (dir, spi):
                return i
        raise ConfigError(f"spi: {spi:#x} ({dir}) does not exist")

    def _check_sa(self, sa: SecurityAssociation | dict) -> SecurityAssociation:
        sa = parse_sa(sa)
        check_sa(sa, self.build)
        return sa

    def _check_new_sa(self, sa: SecurityAssociation | dict, sas: list, spis: SpiIndex
                      ) -> tuple[SecurityAssociation, int]:
        """The checked SA and the index it would take in table `sas` (inbound: the lowest free,
        outbound: the highest), its SPI inserted into `spis` (the SPI index as it will be)."""
        sa = parse_sa(sa)
        free = [i for i, s in enumerate(sas) if s is None]
        index = (free[0] if sa.dir == "in" else free[-1]) if free else None
        check_new_sa(sa, [s for s in sas if s is not None], self.build, spis, index)
        return sa, index

    def add_sa(self, sa: SecurityAssociation | dict) -> int:
        """Program a new SA (an SA or a TOML-style dict); its table index."""
        sa, index = self._check_new_sa(sa, self.sas, copy.deepcopy(self.spis))
        warn(sa)
        self._program_sa(index, sa)
        return index

    def update_sa(self, sa: SecurityAssociation | dict) -> int:
        """Rewrite an SA's mutable fields in place, in one command (the datapath sees the old
        fields or the new, never a mix); its key, sequence number, replay window and counters
        stay. ConfigError naming a field only a new SA may change (key, mode, ...)."""
        sa = self._check_sa(sa)
        index = self.sa_index(sa.dir, sa.spi)
        old = self.sas[index]
        try:
            old.check_update(sa, key_known=any(old.key))
        except ValueError as e:
            raise ConfigError(f"spi {sa.spi:#x} ({sa.dir}) {e}") from None
        self._stage_sa(sa)
        self._command("sa", CmdOp.UPDATE, index)
        self.sas[index] = sa if any(old.key) else replace(sa, key=old.key)  # a key read back stays unknown
        return index

    def delete_sa(self, dir: str, spi: int) -> None:
        index = self.sa_index(dir, spi)
        users = [p for p in self.policies if p.spi == spi and p.dir == dir]
        if users:
            raise ConfigError(f"spi: {spi:#x} ({dir}) is used by a protect policy; delete that first")
        self._delete_sa(index)

    def flush_sas(self) -> None:
        """Delete every SA (and, as no SA is left for them, every policy)."""
        self.flush_policies()
        self._command("sa", CmdOp.FLUSH, 0)
        self.sas, self.spis = [None] * self.n_sa, SpiIndex(self.n_sa)

    def _delete_sa(self, index: int) -> None:
        self._command("sa", CmdOp.DELETE, index)
        if self.sas[index].dir == "in":
            self.spis.remove(self.sas[index].spi, index)
        self.sas[index] = None

    def _program_sa(self, index: int, sa: SecurityAssociation) -> None:
        """Commit a new SA into free entry `index`."""
        self._stage_sa(sa)
        aes_key, salt = sa.key[:-4], sa.key[-4:]
        words = aes_key.ljust(32, b"\0")
        for i in range(8):
            self.regs.write(f"sa_stage.key[{i}]", value=int.from_bytes(words[4 * i:4 * i + 4], "big"))
        self.regs.write("sa_stage.salt", value=int.from_bytes(salt, "big"))
        try:
            self._command("sa", CmdOp.COMMIT, index)
        except HardwareError as e:
            if e.error != CmdErr.FULL:
                raise
            raise ConfigError(index_full(sa.spi)) from None
        if sa.dir == "in":
            self.spis.insert(sa.spi, index)
        self.sas[index] = sa

    def _stage_sa(self, sa: SecurityAssociation) -> None:
        """Every staging field but the key and salt (an update leaves them to the hardware)."""
        w = self.regs.write
        nat = sa.encap
        w("sa_stage.spi", value=sa.spi)
        w("sa_stage.flags", dir=sa.dir, mode=sa.mode, esn=sa.esn, natt=nat is not None, aes256=len(sa.key) == 36,
          df=sa.df, icv_len=sa.icv_bits // 8, ttl=sa.ttl)
        w("sa_stage.src", value=int(ipaddress.IPv4Address(sa.src)))
        w("sa_stage.dst", value=int(ipaddress.IPv4Address(sa.dst)))
        w("sa_stage.natt_ports", lo=nat.sport if nat else 0, hi=nat.dport if nat else 0)
        w("sa_stage.replay_window", size=sa.replay_window)
        for name in ("soft_packets", "hard_packets", "soft_bytes", "hard_bytes"):
            w(f"sa_stage.{name}", value=getattr(sa.lifetime, name))
        w("sa_stage.seq", value=sa.start)  # an update restates it: the hardware refuses a change

    # -- policies ----------------------------------------------------------------------------

    def _check_policy(self, policy: Policy | dict, sas: list, policies: list) -> tuple[Policy, int]:
        """The checked policy and the index it would take in table `policies` (SAs from `sas`)."""
        policy = parse_policy(policy)
        check_policy(policy, [s for s in sas if s is not None], policies, self.build)
        return policy, _place(policy, policies)

    def add_policy(self, policy: Policy | dict) -> int:
        """Insert a policy in priority order (a Policy or a TOML-style dict); its table index."""
        policy, index = self._check_policy(policy, self.sas, self.policies)
        for i in range(len(self.policies) - 1, index - 1, -1):
            self._program_policy(i + 1, self.policies[i])
        self._program_policy(index, policy)
        self.policies.insert(index, policy)
        return index

    def delete_policy(self, index: int) -> None:
        if not 0 <= index < len(self.policies):
            raise ConfigError(f"policy: there is no policy {index}")
        for i in range(index, len(self.policies) - 1):
            self._program_policy(i, self.policies[i + 1])
        self._command("spd", CmdOp.DELETE, len(self.policies) - 1)
        del self.policies[index]

    def flush_policies(self) -> None:
        self._command("spd", CmdOp.FLUSH, 0)
        self.policies = []

    def _program_policy(self, index: int, p: Policy) -> None:
        w, s = self.regs.write, p.selector
        src, dst = ipaddress.IPv4Network(s.src), ipaddress.IPv4Network(s.dst)
        w("spd_stage.flags", dir=p.dir, action=p.action, proto_any=s.proto is None, proto=s.proto or 0)
        w("spd_stage.priority", value=p.priority)
        w("spd_stage.src", value=int(src.network_address))
        w("spd_stage.src_mask", value=int(src.netmask))
        w("spd_stage.dst", value=int(dst.network_address))
        w("spd_stage.dst_mask", value=int(dst.netmask))
        w("spd_stage.sport", lo=s.sport[0], hi=s.sport[1])
        w("spd_stage.dport", lo=s.dport[0], hi=s.dport[1])
        w("spd_stage.sa_index", value=self.sa_index(p.dir, p.spi) if p.action == "protect" else 0)
        self._command("spd", CmdOp.COMMIT, index)

    # -- a whole configuration ---------------------------------------------------------------

    def load(self, sas, policies) -> list[str]:
        """Make the tables hold this configuration, changing only what differs; every entry is
        checked before the first write. An SA already loaded with the same fields is left alone
        (its sequence number and replay window go on), one whose mutable fields differ is
        updated, one whose key (if known: a key read back from hardware is not) or other fixed
        field differs is replaced (deleted, then added: a new SA), SAs not in the configuration
        are deleted. The policies are rewritten (flushed first) if they or their SAs' places
        change. Returns one line per SA (in the configuration's order, then the deleted ones) and
        one for the policies, e.g. "updated out spi 0x00001000"."""
        config = parse({"sa": list(sas), "policy": list(policies)})
        validate(config, self.build)
        wanted = {(sa.dir, sa.spi): sa for sa in config.sas}
        verdicts = {}  # (dir, spi) -> unchanged | updated | replaced | deleted | added
        for old in filter(None, self.sas):
            new = wanted.get((old.dir, old.spi))
            verdicts[old.dir, old.spi] = "deleted" if new is None else _compare(old, new)
        planned_sas = [None if sa is None or verdicts[sa.dir, sa.spi] in ("deleted", "replaced") else sa
                       for sa in self.sas]
        kept = list(planned_sas)
        planned_spis = copy.deepcopy(self.spis)
        for index, sa in enumerate(self.sas):
            if sa is not None and planned_sas[index] is None and sa.dir == "in":
                planned_spis.remove(sa.spi, index)
        # New SAs in the configuration's order; inbound SAs take the lowest free indexes, so the
        # hardware inserts their SPIs in that order too (commits go in index order, below).
        for i, sa in enumerate(config.sas):
            verdict = verdicts.get((sa.dir, sa.spi))
            if verdict == "updated":
                planned_sas[self.sa_index(sa.dir, sa.spi)] = sa
            if verdict in ("unchanged", "updated"):
                continue
            verdicts.setdefault((sa.dir, sa.spi), "added")
            try:
                sa, index = self._check_new_sa(sa, planned_sas, planned_spis)
            except ValueError as e:
                raise ConfigError(f"sa[{i}] {e}") from None
            planned_sas[index] = sa
        planned_policies = []
        for policy in config.policies:
            planned_policies.insert(_place(policy, planned_policies), policy)
        rewrite = planned_policies != self.policies or any(
            p.action == "protect" and verdicts[p.dir, p.spi] == "replaced" for p in planned_policies)
        if rewrite:
            self.flush_policies()
        for index, sa in enumerate(self.sas):
            if sa is not None and kept[index] is None:
                self._delete_sa(index)
        for index, sa in enumerate(planned_sas):
            if sa is None or kept[index] is sa:
                continue
            if kept[index] is None:
                self._program_sa(index, sa)
            else:
                self.update_sa(sa)
        if rewrite:
            for index, policy in enumerate(planned_policies):
                self._program_policy(index, policy)
            self.policies = planned_policies
        order = list(wanted) + [k for k, verdict in verdicts.items() if verdict == "deleted"]
        lines = [f"{verdicts[dir, spi]} {dir} spi {spi:#010x}" for dir, spi in order]
        return lines + [f"policies {'rewritten' if rewrite else 'unchanged'}: {len(planned_policies)}"]

    # -- commands, counters, events -----------------------------------------------------------

    def _command(self, table: str, op: CmdOp, index: int) -> dict:
        self.regs.write(f"{table}_cmd", op=op, index=index)
        status = self._wait(f"{table}_status", "busy")
        if status["error"]:
            raise HardwareError(f"{table}_cmd {op.name.lower()} {index}", CmdErr(status["error"]))
        return status

    def _fetch(self, table: str, index: int) -> dict | None:
        """Table entry `index` as its staging registers read back (None if the entry is not valid)."""
        if not self._command(table, CmdOp.FETCH, index)["valid"]:
            return None
        return {name.removeprefix(f"{table}_stage."): self.regs.read(name)
                for name in self.regs.names(f"{table}_stage.")}

    def fetch_sa(self, index: int) -> SecurityAssociation | None:
        """SA table entry `index` as the hardware holds it; its key reads as zeros."""
        r = self._fetch("sa", index)
        if r is None:
            return None
        flags, ports, start = r["flags"], r["natt_ports"], r["seq"]["value"]

        def name(field):
            return self.regs.value_name("sa_stage.flags", field, flags[field])
        return SecurityAssociation(
            spi=r["spi"]["value"], dir=name("dir"), mode=name("mode"), df=name("df"), ttl=flags["ttl"],
            src=str(ipaddress.IPv4Address(r["src"]["value"])), dst=str(ipaddress.IPv4Address(r["dst"]["value"])),
            key=bytes(36 if flags["aes256"] else 20), icv_bits=8 * flags["icv_len"], esn=bool(flags["esn"]),
            replay_window=r["replay_window"]["size"], encap=NatT(ports["lo"], ports["hi"]) if flags["natt"] else None,
            lifetime=Lifetime(**{k: r[k]["value"] for k in ("soft_packets", "hard_packets", "soft_bytes",
                                                             "hard_bytes")}),
            **{"replay_oseq" if name("dir") == "out" else "replay_seq": start})

    def fetch_policy(self, index: int) -> Policy | None:
        """SPD table entry `index` as the hardware holds it (SAs named from `self.sas`)."""
        r = self._fetch("spd", index)
        if r is None:
            return None
        flags = r["flags"]

        def name(field):
            return self.regs.value_name("spd_stage.flags", field, flags[field])

        def prefix(n):
            return str(ipaddress.IPv4Network((r[n]["value"], str(ipaddress.IPv4Address(r[f"{n}_mask"]["value"])))))
        selector = Selector(src=prefix("src"), dst=prefix("dst"), proto=None if flags["proto_any"] else flags["proto"],
                            sport=(r["sport"]["lo"], r["sport"]["hi"]), dport=(r["dport"]["lo"], r["dport"]["hi"]))
        action = name("action")
        sa = self.sas[r["sa_index"]["value"]] if action == "protect" else None
        return Policy(dir=name("dir"), selector=selector, action=action, spi=sa.spi if sa else None,
                      priority=r["priority"]["value"])

    def _wait(self, register: str, busy: str) -> dict:
        for _ in range(self.poll_limit):
            status = self.regs.read(register)
            if not status[busy]:
                return status
        raise TimeoutError(f"{register}.{busy} stayed set")

    def sa_counters(self, index: int) -> SaCounters:
        """A consistent snapshot of SA `index`'s counters."""
        if not 0 <= index < self.n_sa:
            raise ConfigError(f"index: {index} is not 0..{self.n_sa - 1}")
        self.regs.write("sa_cnt_sel", index=index)
        self._wait("sa_cnt_sel", "busy")
        return SaCounters(**{name: self.regs.read(f"sa_cnt.{name}")["value"]
                             for name in ("packets", "bytes", "auth_fail", "replay", "seq")})

    def global_counters(self) -> dict[str, int]:
        """Every global counter, by the model's names (`GlobalCounters.as_dict`)."""
        names = [n.removeprefix("global_cnt.") for n in self.regs.names("global_cnt.")]
        return {_model_name(n): self.regs.read(f"global_cnt.{n}")["value"] for n in names}

    def set_event_thresholds(self, auth_fail: int = 0, replay: int = 0) -> None:
        """Raise an event when an inbound SA's auth failures / replay drops reach these counts (0: never)."""
        for name, value in (("auth_fail", auth_fail), ("replay", replay)):
            if not 0 <= value <= 0xFFFF:
                raise ConfigError(f"{name}: threshold {value} is not 0..65535")
        self.regs.write("event_threshold", auth_fail=auth_fail, replay=replay)

    def poll_event(self) -> tuple[str, int] | None:
        """Pop one event: (kind, SA index), or None if there is none."""
        event = self.regs.read("event")
        if not event["kind"]:
            return None
        return self.regs.value_name("event", "kind", event["kind"]), event["index"]

    def wait_event(self, timeout: float) -> tuple[Event | str, int] | None:
        """The next event (an `espline.config.Event` where there is one, else the map's name) and SA index."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.poll_event()
            if event is not None:
                return EVENTS.get(event[0], event[0]), event[1]
            if time.monotonic() >= deadline:
                return None


def _model_name(counter: str) -> str:
    """A global counter's name as the model gives it: drop reasons hyphenated (`drop_no_sa` is
    `drop_no-sa`, docs/model.md)."""
    reason = counter.removeprefix("drop_")
    return f"drop_{reason.replace('_', '-')}" if reason != counter else counter


def _place(policy: Policy, policies: list[Policy]) -> int:
    """Where `policy` goes in the SPD table `policies`: after every policy of its priority or lower."""
    return sum(p.priority <= policy.priority for p in policies)


def _compare(old: SecurityAssociation, new: SecurityAssociation) -> str:
    """What loading `new` over `old` (same dir and SPI) takes: unchanged, updated or replaced
    (a fixed field differs: a new SA). A key read back from hardware (zeros) is not compared."""
    try:
        old.check_update(new, key_known=any(old.key))
    except ValueError:
        return "replaced"
    return "unchanged" if all(getattr(old, name) == getattr(new, name) for name in MUTABLE) else "updated"
