"""strongSwan's IKE daemon, charon, as a real peer for `make ike-interop` (docs/ike-interop.md).

charon runs with the kernel-libipsec backend: ESP in user space over a TUN device (Linux's own
XFRM has no ESP here), always UDP-encapsulated on port 4500. Each charon lives in a network
namespace of the topology and in a mount namespace of its own whose /run is a folder of the run
(its pid file path is compiled in), so several run side by side: `ip netns exec NS unshare -m
--propagation private`. Its configuration is a strongswan.conf of its own (`STRONGSWAN_CONF`);
connections and keys are loaded over VICI, charon's control socket, with the `vici` package.
The file log records the IKE and Child SA keys (`ike = 4`, `chd = 4`).
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import vici

CHARON = Path("/usr/lib/ipsec/charon")
#: Plugins, in load order (kernel-libipsec before kernel-netlink).
PLUGINS = ("random nonce openssl gcm aes sha1 sha2 hmac kdf gmp pem pkcs1 x509 pubkey "
           "kernel-libipsec kernel-netlink socket-default vici updown")
DEBIAN = "strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins"


def missing() -> str | None:
    """Why charon with kernel-libipsec cannot run here, or None."""
    plugin = Path("/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so")
    if not (CHARON.exists() and plugin.exists()):
        return f"no strongSwan charon with kernel-libipsec (apt-get install {DEBIAN})"
    if not shutil.which("unshare"):
        return "no unshare (util-linux)"
    return None


STRONGSWAN_CONF = """\
charon {{
    load = {plugins}
    # the run's own: no retries beyond these, so that a dead peer shows within seconds
    retransmit_tries = 3
    retransmit_timeout = 1.0
    retransmit_base = 1.4
    install_virtual_ip = no
    plugins {{
        kernel-libipsec {{
            allow_peer_ts = no
        }}
    }}
    filelog {{
        log {{
            path = {log}
            time_format = %H:%M:%S
            time_add_ms = yes
            append = yes
            flush_line = yes
            default = 1
            ike = 4
            chd = 4
            cfg = 2
            net = 1
            knl = 1
        }}
    }}
    syslog {{
        daemon {{
            default = -1
        }}
    }}
}}
"""


class Charon:
    """One charon in network namespace `netns`; its files under `folder` (run/, charon.log)."""

    def __init__(self, netns: str, folder: Path):
        self.netns, self.folder = netns, folder
        self.run_dir = folder / "run"
        self.log = folder / "charon.log"
        self.socket = self.run_dir / "charon.vici"  # /run/charon.vici inside its mount namespace
        self.process = None

    def start(self, timeout: float = 20) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "strongswan.conf"
        conf.write_text(STRONGSWAN_CONF.format(plugins=PLUGINS, log=self.log))
        script = f"mount --bind {self.run_dir} /run && exec {CHARON}"
        self.process = subprocess.Popen(
            ["ip", "netns", "exec", self.netns, "unshare", "-m", "--propagation", "private", "sh", "-c", script],
            env={"STRONGSWAN_CONF": str(conf), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
            stdout=subprocess.DEVNULL, stderr=(self.folder / "charon.stderr").open("w"))
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.session().version()
                return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"charon in {self.netns} exited ({self.process.returncode}): "
                                   f"{(self.folder / 'charon.stderr').read_text().strip()[-400:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"charon in {self.netns}: no VICI socket {self.socket} after {timeout} s")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM and wait (charon deletes its SAs on the way out); SIGKILL if it hangs."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the peer vanishes without a word (dead-peer detection's case)."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def session(self) -> vici.Session:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(str(self.socket))
        return vici.Session(s)

    def load(self, name: str, conn: dict, psk: str, ids: tuple[str, str]) -> None:
        """Load a connection (swanctl.conf's `connections.<name>`) and its pre-shared key."""
        s = self.session()
        s.load_shared({"id": f"psk-{name}", "type": "IKE", "data": psk, "owners": list(ids)})
        s.load_conn({name: conn})

    def initiate(self, child: str, timeout_ms: int = 15000) -> list[str]:
        """Initiate `child` (and its IKE SA); charon's log lines of the attempt. Raises on failure."""
        return _streamed(self.session().initiate({"child": child, "timeout": timeout_ms}))

    def rekey(self, **which) -> None:
        self.session().rekey(which)

    def terminate(self, **which) -> list[str]:
        return _streamed(self.session().terminate({**which, "timeout": 10000}))

    def sas(self) -> list[dict]:
        """`swanctl --list-sas` as data: one dict per IKE SA (its children under "child-sas")."""
        out = []
        for entry in self.session().list_sas():
            for name, ike in entry.items():
                out.append({"name": name, **_decode(ike)})
        return out

    def log_lines(self, *words: str) -> list[str]:
        """The log's lines that contain every one of `words`."""
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text(errors="replace").splitlines() if all(w in line for w in words)]


def _streamed(responses) -> list[str]:
    lines = []
    try:
        for event in responses:
            if b"msg" in event or "msg" in event:
                lines.append(_decode(event).get("msg", ""))
    except vici.exception.CommandException as e:
        raise RuntimeError(f"charon: {e}" + (f" ({lines[-1]})" if lines else "")) from None
    return lines


def _decode(value):
    """VICI answers as bytes; as str for printing and comparing."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {(k.decode() if isinstance(k, bytes) else k): _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def connection(local: str, remote: str, local_ts: str, remote_ts: str, *, ike: str, esp: str,
               dpd_delay: int = 0) -> dict:
    """A swanctl.conf connection: PSK, IKEv2, tunnel mode, ids = the addresses; no rekeys or
    reauthentication on timers (the run rekeys when it wants to), liveness checks every
    `dpd_delay` s when not 0."""
    return {
        "version": "2", "local_addrs": [local], "remote_addrs": [remote], "proposals": [ike],
        "encap": "yes",  # kernel-libipsec sends ESP in UDP in any case; say so on the wire (NAT-D)
        "dpd_delay": f"{dpd_delay}s", "rekey_time": "0", "reauth_time": "0", "mobike": "no",
        "local": {"auth": "psk", "id": local}, "remote": {"auth": "psk", "id": remote},
        "children": {"net": {
            "local_ts": [local_ts], "remote_ts": [remote_ts], "esp_proposals": [esp], "mode": "tunnel",
            "rekey_time": "0", "start_action": "none", "dpd_action": "clear", "close_action": "none",
        }},
    }
