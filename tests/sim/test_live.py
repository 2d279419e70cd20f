"""`espline run` and `make live` (espline.sim.live; docs/live.md).

The clear errors run by default; the two appliances between two hosts in network namespaces
(real ping, TCP and an attacker on the WAN) are `slow`: they build the harness (about 5 min)
and need root and ethtool, and are skipped with the reason where those are missing.
"""

import json
import os
import shutil

import pytest

from espline.sim import cli
from espline.sim.live import topology


def test_run_names_a_missing_interface(capsys):
    assert cli.main(["run", "--plain", "nosuch0", "--cipher", "nosuch1", "--mgmt", "/tmp/x.sock"]) == 2
    assert "no network interface 'nosuch0' in this network namespace" in capsys.readouterr().err


@pytest.mark.parametrize("spec, message", [
    ("unix:/nonexistent/espline.sock", "no device answers on unix:/nonexistent/espline.sock"),
    ("tcp:127.0.0.1:1", "no device answers on tcp:127.0.0.1:1"),
    ("tcp:localhost", "'tcp:localhost' is not 'unix:PATH' or 'tcp:HOST:PORT'"),
])
def test_device_commands_name_a_device_that_is_not_there(capsys, spec, message):
    assert cli.main(["stats", "--transport", spec]) == 2
    assert message in capsys.readouterr().err


def _live_missing() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    missing = [t for t in ("ip", "ethtool", "ping") if not shutil.which(t)]
    return f"missing {', '.join(missing)}" if missing else None


@pytest.mark.slow
@pytest.mark.skipif(_live_missing() is not None, reason=str(_live_missing()))
def test_two_appliances_between_two_hosts(tmp_path, capsys):
    """ping, UDP and a digest-checked TCP transfer pass; the attack on the WAN shows as drops only;
    both devices' counters account for every frame; namespaces are gone afterwards."""
    before = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    assert topology.main(["--out", str(tmp_path), "--tcp-bytes", "2e6", "--udp-packets", "2000",
                          "--attack", "10"]) == 0, capsys.readouterr().out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["tcp"]["digest_ok"] and result["ping"]["received"] == result["ping"]["sent"]
    assert result["attack"] == {"replay": 10, "forged": 10, "unknown_spi": 10}
    after = set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
    assert after == before


@pytest.mark.slow
@pytest.mark.skipif(_live_missing() is not None, reason=str(_live_missing()))
def test_path_mtu_discovery_through_two_appliances(tmp_path, capsys):
    """The appliances' WAN MTU 1500, the hosts' 1500: the hosts' full-size TCP segments no longer
    fit once protected; appliance A answers them with ICMP fragmentation-needed, the LAN-A host's
    kernel learns the next-hop MTU (tunnel, ICV 16: 1446, docs/model.md) and the transfer completes."""
    assert topology.main(["--out", str(tmp_path), "--tcp-bytes", "2e6", "--udp-packets", "500", "--attack", "5",
                          "--mtu", "1500"]) == 0, capsys.readouterr().out
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["tcp"]["digest_ok"]
    assert result["pmtu"]["icmp_sent"] >= 1 and result["pmtu"]["pmtu"] == 1446
