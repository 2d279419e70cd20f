"""`espline ike`: its clear errors, and the host port's SOCK_SEQPACKET link (a frame per message)."""

import socket
import tomllib

import pytest

from espline.config import ConfigError, parse
from espline.host.cli import main
from espline.host.ike.link import SeqpacketLink

CONFIG = """
[ike.connections.site-b]
local_addrs = ["192.0.2.1"]
remote_addrs = ["198.51.100.2"]
local = { id = "192.0.2.1" }
remote = { id = "198.51.100.2" }
[ike.connections.site-b.children.net]
local_ts = ["10.1.0.0/16"]
remote_ts = ["10.2.0.0/16"]
[ike.secrets.ike-b]
secret = "0sc2VjcmV0"
"""


def run(tmp_path, capsys, *args, config=CONFIG):
    path = tmp_path / "ike.toml"
    path.write_text(config)
    code = main(["ike", str(path), *args])
    return code, capsys.readouterr().err


def test_no_device_is_a_clear_error(tmp_path, capsys):
    code, err = run(tmp_path, capsys, "--transport", f"unix:{tmp_path}/none.sock")
    assert code == 2 and "no device answers" in err


def test_a_configuration_without_connections_is_refused(tmp_path, capsys):
    code, err = run(tmp_path, capsys, "--transport", "unix:/x", config="")
    assert code == 2 and "no [ike.connections] table" in err


def test_unknown_connection_to_initiate(tmp_path, capsys):
    code, err = run(tmp_path, capsys, "--transport", "unix:/x", "--initiate", "site-c")
    assert code == 2 and "no connection 'site-c'" in err


def test_bad_proposal_named():
    bad = CONFIG.replace('local_ts = ["10.1.0.0/16"]',
                         'local_ts = ["10.1.0.0/16"]\nesp_proposals = ["aes128gcm16-md5"]')
    assert parse(tomllib.loads(bad)).ike  # the schema takes it; the daemon knows the algorithms
    from espline.host.ike.daemon import ConfigurationError, Daemon
    with pytest.raises(ConfigurationError, match="unknown algorithm 'md5'"):
        Daemon(parse(tomllib.loads(bad)).ike, None, None)


def test_seqpacket_link_carries_one_frame_per_message(tmp_path):
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(str(tmp_path / "host"))
    server.listen(1)
    link = SeqpacketLink(str(tmp_path / "host"))
    conn, _ = server.accept()
    link.send(b"a" * 1500)
    link.send(b"b" * 60)
    assert [conn.recv(65536), conn.recv(65536)] == [b"a" * 1500, b"b" * 60]
    conn.send(b"c" * 9000)
    assert link.receive(1.0) == b"c" * 9000 and link.receive(0.01) is None
    conn.close()
    with pytest.raises(ConnectionError):
        link.receive(1.0)
    link.close()
    with pytest.raises(OSError, match="no appliance host port"):
        SeqpacketLink(str(tmp_path / "absent"))


@pytest.mark.parametrize("change,message", [
    (('local_addrs = ["192.0.2.1"]', 'local_addrs = ["192.0.2.300"]'), "local_addrs: '192.0.2.300' is not an IPv4"),
    (('remote_ts = ["10.2.0.0/16"]', 'remote_ts = ["10.2.0.0/33"]'), "children.net remote_ts"),
    (('remote_ts = ["10.2.0.0/16"]', 'remote_ts = ["10.2.0.0/16"]\nrekey_time = "1h"\nlife_time = "30m"'),
     "life_time: 1800 s is not above rekey_time"),
    (('remote_ts = ["10.2.0.0/16"]', 'remote_ts = ["10.2.0.0/16"]\nstart_action = "trap"'), "start_action"),
    (('secret = "0sc2VjcmV0"', 'secret = "0xzz"'), "secret: not valid hexadecimal"),
    (('remote = { id = "198.51.100.2" }', 'remote = { id = "198.51.100.2", auth = "pubkey" }'), "only 'psk'"),
    (('[ike.secrets.ike-b]\nsecret = "0sc2VjcmV0"', '[ike.secrets.ike-b]\nid = "other"\nsecret = "x"'), "no secret"),
    (('local_addrs', 'local_adrs'), "unknown field 'local_adrs'"),
])
def test_configuration_errors_name_the_field(change, message):
    text = CONFIG.replace(*change)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse(tomllib.loads(text))
