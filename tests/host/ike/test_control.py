"""The daemon's control socket: list, initiate, rekey-child, rekey-ike, terminate, on two
in-process daemons (`ike_env`), and one command over the real Unix socket."""

import threading

from ike_env import Sites

from espline.host.ike.control import ControlSocket, request


def test_commands_drive_the_daemon(tmp_path):
    sites = Sites()
    control = ControlSocket(str(tmp_path / "ctl"), sites.daemons["a"])
    assert control.execute("list") == ["ok"]
    assert control.execute("rekey-child site") == ["error: connection site has no established IKE SA"]
    assert control.execute("initiate nowhere")[0].startswith("error: initiate needs the name of a connection")
    assert control.execute("reboot")[0].startswith("error: unknown command 'reboot'")
    assert control.execute("initiate site") == ["ok"]
    sites.pump()
    listing = control.execute("list")
    assert listing[0].startswith("IKE_SA site[1]: established 192.0.2.1[site-a.example]...198.51.100.2") \
        and "CHILD_SA net{" in listing[1] and listing[-1] == "ok"
    old = sites.children("b")[0].spi_in
    assert control.execute("rekey-child site") == ["ok"]
    sites.pump()
    assert sites.children("b")[0].spi_in != old and sites.traffic_flows()
    old_ike = set(sites.daemons["b"].sas)
    assert control.execute("rekey-ike site") == ["ok"]
    sites.pump()
    assert set(sites.daemons["b"].sas).isdisjoint(old_ike) and sites.traffic_flows()
    assert control.execute("terminate site") == ["ok"]
    sites.pump()
    assert not sites.daemons["a"].sas and not sites.daemons["b"].sas
    control.close()


def test_a_command_over_the_socket(tmp_path):
    sites = Sites()
    control = ControlSocket(str(tmp_path / "ctl"), sites.daemons["a"])
    answer = []
    client = threading.Thread(target=lambda: answer.extend(request(str(tmp_path / "ctl"), "initiate site")))
    client.start()
    while client.is_alive():
        control.poll()
        client.join(0.01)
    assert answer == ["ok"]
    sites.pump()
    assert sites.children("a") and sites.children("b")
    control.close()
    assert not (tmp_path / "ctl").exists()
