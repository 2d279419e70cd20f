"""Boards in simulation: the board top (`espline.hw.top.BoardTop`, via `espline.hw.sim_board.SimBoard`)
twice in one Verilator model, frames on its RGMII pins and the host on its UART pins
(docs/boards.md, "The board in simulation").

The Verilog top (`boards_top`) holds site A and site B, each a `SimBoard` of the same module
(one C++ model, instantiated twice). `clk` and `rst` are shared. Each board's LAN pins
(`a_eth0_*`, `b_eth0_*`), UART and WAN transmit pins are top-level ports. The WAN receive pins
take, while `wan_link` is high, the other board's WAN transmit pins (the two boards back to back,
wired in Verilog: no Python on that link), else the top-level `a_eth1_rx_*`/`b_eth1_rx_*` inputs
(one board on its own, `make bench`). Every receive clock is a top-level input: the bench gives
them the transmit clock a quarter period late, the PHYs' clock delay.
"""

import fcntl
import hashlib
import re
from pathlib import Path

__all__ = ["BOARD_MODULE", "TOP", "boards_top", "build"]

ROOT = Path(__file__).resolve().parents[2]
BOARD_MODULE, TOP = "espline_board", "espline_boards"
DIVISOR = 4  # the UART bridge's clock cycles per bit in simulation (the board's: 1085)
SHARED = ("clk", "rst")
WAN_INPUTS = ("eth1_rx_ctl", "eth1_rx_data")


def boards_top(board_verilog: str) -> str:
    """Verilog of the top module `TOP`: two instances of `BOARD_MODULE` (see the module's docstring)."""
    body = re.search(rf"^module {BOARD_MODULE}\(.*?^endmodule", board_verilog, re.MULTILINE | re.DOTALL)[0]
    ports = re.findall(r"^\s*(input|output)\s*(\[\d+:0\])?\s*(\w+);", body, re.MULTILINE)
    decls, names, lines = [f"  input {n};" for n in (*SHARED, "wan_link")], [*SHARED, "wan_link"], []
    other = {"a": "b", "b": "a"}
    for site in "ab":
        for direction, width, name in ports:
            if name in SHARED:
                continue
            w = f"{width} " if width else ""
            decls.append(f"  {direction} {w}{site}_{name};")
            names.append(f"{site}_{name}")
            if name in WAN_INPUTS:
                lines.append(f"  wire {w}{site}_{name}_in = wan_link ? {other[site]}_{name.replace('rx', 'tx')} "
                             f": {site}_{name};")
    for site in "ab":
        conns = ", ".join(f".{n}({n if n in SHARED else f'{site}_{n}_in' if n in WAN_INPUTS else f'{site}_{n}'})"
                          for _, _, n in ports)
        lines.append(f"  {BOARD_MODULE} board_{site}({conns});")
    return "\n".join([f"module {TOP}({', '.join(names)});", *decls, *lines, "endmodule", ""])


def _fingerprint(board: str) -> str:
    from espline.sim.toolchain import gateware_fingerprint

    h = hashlib.sha256(gateware_fingerprint(f"board {board}", {"divisor": DIVISOR}).encode())
    for path in sorted((ROOT / "hw").rglob("*.py")) + [Path(__file__)]:
        h.update(path.read_bytes())
    return h.hexdigest()


def build(board: str, build_dir: Path | None = None):
    """The Verilator model of two boards `board` (a name of `espline.hw.boards.BOARDS`) with the
    gigabit build, in `build_dir` (default `build/cocotb_boards_<board>_verilator`); the board top
    is converted again only when gateware/, hw/ or this file changed (a fingerprint is kept).
    Returns (cocotb runner, build_dir)."""
    build_dir = Path(build_dir or ROOT / "build" / f"cocotb_boards_{board}_verilator")
    build_dir.mkdir(parents=True, exist_ok=True)
    with open(build_dir / ".lock", "w") as lock:  # one build at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build(board, build_dir), build_dir


def _build(board: str, build_dir: Path):
    from espline.sim.toolchain import build_public_top, write_verilog

    board_v = build_dir / f"{BOARD_MODULE}.v"
    stamp, fingerprint = build_dir / "fingerprint", _fingerprint(board)
    if not (stamp.exists() and stamp.read_text() == fingerprint and board_v.exists()):
        print(f"converting the {board} board top (gigabit build) to Verilog and building its Verilator model in "
              f"{build_dir}: the first time takes several minutes, later runs reuse it ...", flush=True)
        from espline.hw.boards import BOARDS
        from espline.hw.sim_board import SimBoard

        write_verilog(SimBoard(BOARDS[board], divisor=DIVISOR), BOARD_MODULE, board_v)
        stamp.write_text(fingerprint)
    return build_public_top(build_dir, TOP, boards_top(board_v.read_text()), [board_v])
