"""`make ike-interop` (espline.sim.live.ike_interop; docs/ike-interop.md): IKEv2 with strongSwan.

The short pass (about 15 s) runs by default, the whole run (both sides initiating, rekeying and
deleting, dead-peer detection both ways, wrong PSK both ways: about 70 s) is `slow`. They need
root and strongSwan's charon with kernel-libipsec; outside CI they are skipped with the reason
where those are missing, in CI (which installs strongSwan, .ci/run) that is a failure.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from espline.sim.live import ike_interop, strongswan


def _missing() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    return strongswan.missing()


@pytest.fixture
def interop_host():
    """Skip (fail in CI) where the interop run cannot run; afterwards, none of the run's network
    namespaces (`eik<pid>-...`, this process's) may be left."""
    why = _missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}: .ci/run installs it", pytrace=False)
        pytest.skip(why)
    yield
    ours = f"eik{os.getpid()}-"
    left = [n for n in (os.listdir("/run/netns") if os.path.isdir("/run/netns") else []) if n.startswith(ours)]
    assert not left, f"the run left network namespaces behind: {left}"


def _charons_of(folder: Path) -> list[int]:
    """The charon processes whose configuration lies under `folder`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"STRONGSWAN_CONF={folder}".encode() in environ:
            found.append(int(pid))
    return found


WIRE = "every IKE message on the WAN well-formed to Wireshark"


def _scenarios(out: Path) -> dict:
    """The run's scenarios by name; Wireshark's check of the IKE capture, where tshark is, must
    be among them and have passed, and is left out."""
    result = {r["scenario"]: r for r in json.loads((out / "result.json").read_text())["scenarios"]}
    if shutil.which("tshark"):
        assert result.pop(WIRE)["passed"]
    return result


@pytest.mark.slow
def test_quick_pass_strongswan_to_strongswan(tmp_path, capsys, interop_host):
    """Set-up, ping and TCP; a Child SA rekey under traffic loses no datagram either way and the
    TCP transfer that spans it is intact; DELETE empties both sides; a wrong PSK is refused and
    leaves no SA; charon's own lines for the established and rekeyed SAs are printed."""
    assert ike_interop.main(["--out", str(tmp_path), "--quick", "--tcp-bytes", "1e6"]) == 0, capsys.readouterr().out
    printed = capsys.readouterr().out
    result = _scenarios(tmp_path)
    rekey = result["Child SA rekey by B under traffic (SAs set up by A)"]
    assert rekey["udp_lost"] == {"A->B": 0, "B->A": 0} and rekey["udp_sent_each_way"] > 0
    assert rekey["tcp_digest_ok"] and rekey["tcp_across_rekey"]
    spis = [{spi for pair in rekey[when] for spi in pair} for when in ("spis_before", "spis_after")]
    assert len(spis[0]) == len(spis[1]) == 2 and spis[0].isdisjoint(spis[1])
    assert result["DELETE by A (INFORMATIONAL) (SAs set up by A)"]["ping_after"] == "0/3"
    assert "CHILD_SA net{1} established with SPIs" in printed
    assert "MAC mismatched" in printed and "received AUTHENTICATION_FAILED notify error" in printed
    assert not _charons_of(tmp_path)


def test_a_failing_run_removes_its_namespaces_and_charons(tmp_path, monkeypatch, interop_host):
    """A scenario that raises half-way: the namespaces and both charons are gone all the same."""
    def broken(self, count=10):
        raise RuntimeError("a scenario fails")
    monkeypatch.setattr(ike_interop.Run, "ping", broken)
    with pytest.raises(RuntimeError, match="a scenario fails"):
        ike_interop.main(["--out", str(tmp_path), "--quick"])
    assert not _charons_of(tmp_path)


def test_sites_must_be_known_kinds(capsys):
    with pytest.raises(SystemExit):
        ike_interop.main(["--sites", "strongswan,racoon"])
    assert "--sites: two of strongswan" in capsys.readouterr().err


@pytest.mark.slow
def test_every_scenario_strongswan_to_strongswan(tmp_path, capsys, interop_host):
    """Both sides initiate, rekey (Child SA under traffic, IKE SA) and delete; dead-peer detection
    each way; a wrong PSK each way: every scenario passes, no datagram lost in any rekey."""
    assert ike_interop.main(["--out", str(tmp_path), "--tcp-bytes", "2e6"]) == 0, capsys.readouterr().out
    result = _scenarios(tmp_path)
    assert len(result) == 14
    rekeys = [r for name, r in result.items() if name.startswith("Child SA rekey")]
    assert len(rekeys) == 4 and all(r["udp_lost"] == {"A->B": 0, "B->A": 0} for r in rekeys)
    assert all(result[f"dead-peer detection: {v} killed, {s} notices"]["survivor_cleared_after_s"] < 30
               for v, s in (("B", "A"), ("A", "B")))


@pytest.mark.slow
@pytest.mark.parametrize("sites", ["espline,strongswan", "espline,espline"])
def test_every_scenario_with_espline(tmp_path, capsys, interop_host, sites):
    """Site A the simulated appliance with `espline ike` (the Verilator build of `espline run`:
    about 5 min the first time), site B strongSwan or espline: every scenario passes, and for each
    espline site a rekey that its appliance's soft packet limit asks for, losing nothing."""
    status = ike_interop.main(["--sites", sites, "--out", str(tmp_path), "--tcp-bytes", "5e5"])
    printed = capsys.readouterr().out
    result = _scenarios(tmp_path)
    assert status == 0 and all(r["passed"] for r in result.values()), printed
    assert len(result) == 14 + sites.count("espline")
    assert sum("soft packet limit" in name for name in result) == sites.count("espline")
