"""The appliance as a network device between real Linux hosts (docs/live.md).

`espline run` (:mod:`espline.sim.live.device`) runs the appliance gateware in Verilator on Linux
network interfaces, its registers on a management socket; `make live`
(:mod:`espline.sim.live.topology`) puts two of them between two hosts in network namespaces.
"""
