"""The `espline` device commands: the ip-xfrm vocabulary, batch sessions on the simulated appliance,
and the command layer programming the appliance that then carries traffic."""

import io
import json
import random
import shlex
import tomllib

import pytest

from espline.config import ConfigError, load, parse_policy, parse_sa
from espline.host import xfrm
from espline.host.cli import main, make_parser, run_device
from espline.sim.appsim import run as run_appliance
from espline.sim.model import Appliance, Port, Reason
from espline.sim.traffic import arp_frame, ethernet, ip_packet

with open("docs/examples/site-a.toml", "rb") as f:
    SITE_A = tomllib.load(f)

STATE_WORDS = [
    "src 192.0.2.1 dst 198.51.100.2 proto esp spi 0x1000 dir out mode tunnel "
    "aead rfc4106(gcm(aes)) 0xa3eae14c438f873eb2c88aee38f4217ba5f1eab5 128 "
    "limit packet-soft 1000000 packet-hard 2000000",
    "src 198.51.100.2 dst 192.0.2.1 proto esp spi 0x2000 dir in mode tunnel aead rfc4106(gcm(aes)) "
    "0x693428a3df9297a20e81cc777a5eaa73bf4c9fbb5da2c77813f34555b3bc9b443f06c93b 128 flag esn replay-window 128",
]
POLICY_WORDS = [
    "src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp dport 22-23 dir out priority 10 action block",
    "src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 20 tmpl src 192.0.2.1 dst 198.51.100.2 proto esp spi 0x1000 "
    "mode tunnel",
    "src 10.2.0.0/16 dst 10.1.0.0/16 dir in priority 20 tmpl proto esp spi 0x2000",
]


def test_xfrm_words_mean_what_the_toml_means():
    assert [parse_sa(xfrm.state(w.split())) for w in STATE_WORDS] == [parse_sa(e) for e in SITE_A["sa"]]
    assert [parse_policy(xfrm.policy(w.split())) for w in POLICY_WORDS] == [parse_policy(e) for e in SITE_A["policy"]]


def test_xfrm_starting_numbers():
    """`replay-oseq N` / `replay-seq N` as `ip xfrm state` takes them, the `-hi` words the high
    halves of the 64-bit ESN numbers."""
    out, inbound = (STATE_WORDS[0] + " replay-oseq 4000000000").split(), (STATE_WORDS[1] + " replay-seq 9").split()
    assert parse_sa(xfrm.state(out)).replay_oseq == 4000000000
    assert parse_sa(xfrm.state(inbound + "replay-seq-hi 0x3".split())).replay_seq == (3 << 32) + 9
    assert parse_sa(xfrm.state(inbound[:-2] + "replay-seq-hi 1".split())).replay_seq == 1 << 32
    with pytest.raises(ConfigError, match="replay-oseq-hi: 4294967296 is not 0..0xffffffff"):
        xfrm.state(out + "replay-oseq-hi 4294967296".split())
    with pytest.raises(ConfigError, match="replay-seq: expected a number, got 'x'"):
        xfrm.state(inbound[:-1] + ["x"])


def test_xfrm_words_errors_name_the_word():
    with pytest.raises(ConfigError, match="proto: 'ah'"):
        xfrm.state("src 1.2.3.4 proto ah".split())
    with pytest.raises(ConfigError, match="unknown word 'reqid'"):
        xfrm.state("src 1.2.3.4 reqid 1".split())
    with pytest.raises(ConfigError, match="aead icv: missing"):
        xfrm.state("aead rfc4106(gcm(aes)) 0x00".split())


def run(tmp_path, lines):
    script = tmp_path / "batch"
    script.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    return main(["batch", "--transport", "sim", str(script)], out=out), out.getvalue()


@pytest.mark.parametrize("argv", [["state", "list", "--transport", "unix:/run/a.sock"],
                                  ["state", "--transport", "unix:/run/a.sock", "list"],
                                  ["policy", "list", "--transport", "unix:/run/a.sock"]])
def test_options_after_the_xfrm_words_are_options(argv):
    """`state list --transport X` acts on X, not on a fresh simulation with `--transport` as words."""
    args = make_parser().parse_args(argv)
    assert args.words == ["list"] and args.transport == "unix:/run/a.sock"


def test_batch_session_adds_lists_and_counts(tmp_path):
    commands = [f"state add {w}" for w in STATE_WORDS] + [f"policy add {w}" for w in POLICY_WORDS]
    commands += ["state list", "policy list", "stats", "events --timeout 0", "policy delete index 2",
                 "state delete spi 0x2000 dir in", "state list"]
    status, out = run(tmp_path, commands)
    assert status == 0, out
    assert "proto esp spi 0x00001000 dir out mode tunnel index 255" in out  # highest free
    assert "proto esp spi 0x00002000 dir in mode tunnel index 0" in out  # 0x2000 mod 256
    assert "src 10.1.0.0/16 dst 10.2.0.0/16 proto tcp dport 22-23 dir out priority 10 action discard index 0" in out
    assert "out spi 0x00001000: packets=0" in out
    assert out.count("proto esp spi 0x00002000") == 1  # listed before the delete, gone after


def test_batch_load_and_refusal(tmp_path, capsys):
    """A second load of one file writes nothing and says so; `state update` may not change the key."""
    rekey = STATE_WORDS[0].replace("0xa3eae14c", "0xb3eae14c")
    status, out = run(tmp_path, ["load docs/examples/site-a.toml", "load docs/examples/site-a.toml", "policy list",
                                 f"state update {STATE_WORDS[0].replace('packet-soft 1000000', 'packet-soft 5')}",
                                 f"state update {rekey}"])
    assert out.splitlines()[:6] == ["load: added out spi 0x00001000", "load: added in spi 0x00002000",
                                    "load: policies rewritten: 3", "load: unchanged out spi 0x00001000",
                                    "load: unchanged in spi 0x00002000", "load: policies unchanged: 3"]
    assert out.count("index") == 4 and "state update: index 255" in out
    assert status == 2
    assert "key: an update cannot change it; that is a new SA" in capsys.readouterr().err


@pytest.mark.parametrize("how", ["load", pytest.param("words", marks=pytest.mark.slow)])
def test_cli_programs_the_appliance_and_stats_agree_with_the_model(how):
    """`load` of site-a.toml, or the same SAs and policies as `state add` / `policy add` words, run
    through the CLI's command layer into the appliance gateware (Amaranth's simulator); then
    traffic both ways from site B (the example's peer); frames and `stats --json` against the model."""
    if how == "load":
        commands = ["load docs/examples/site-a.toml"]
    else:
        commands = [f"state add {w}" for w in STATE_WORDS] + [f"policy add {w}" for w in POLICY_WORDS]
    parser, out = make_parser(), io.StringIO()

    def program(dev):
        for line in commands:
            run_device(dev, parser.parse_args(shlex.split(line)), out)

    site, peer = (Appliance.from_config(load(f"docs/examples/site-{s}.toml")) for s in "ab")
    rng = random.Random(3)
    plain = [ethernet(ip_packet(rng.randint(40, 400), "10.1.0.5", "10.2.0.9", rng.choice(("udp", "tcp")), seed=i,
                                dport=rng.choice((22, 80, 443)))) for i in range(8)]
    plain += [ethernet(ip_packet(64, "10.1.0.5", "172.16.0.1")), arp_frame()]  # no policy: discard; not IP: pass
    cipher = [peer.process(Port.PLAIN, ethernet(ip_packet(rng.randint(40, 400), "10.2.0.9", "10.1.0.5", seed=50 + i)))
              .frame for i in range(6)]
    cipher.insert(2, cipher[0])  # a replay
    r = run_appliance(site, {Port.PLAIN: plain, Port.CIPHER: cipher}, program=program)
    assert r.matches()
    assert r.expected("cipher") and r.expected("plain") and site.counters.drops[Reason.REPLAY] == 1
    run_device(r.driver, parser.parse_args(["stats", "--json"]), out)
    stats = json.loads(out.getvalue()[out.getvalue().index("{"):])
    assert stats["global"] == site.counters.as_dict()
    assert stats["sa"] == {f"{sa.dir} spi {sa.spi:#010x}": {
        "packets": sa.counters.packets, "bytes": sa.counters.bytes, "auth_fail": sa.counters.auth_fail,
        "replay": sa.counters.replay, "seq": sa.seq if sa.dir == "out" else sa.window.top} for sa in site.sad}
