import os
import sys

# --import-mode=importlib: the test benches shared across folders - the CSR bench (a stand-in for
# the datapath, and the SA write encoding), the control-block bench and the whole-appliance bench
# runner - are importable by name.
for folder in (("gateware",), ("gateware", "csr"), ("gateware", "esp"), ("host", "ike")):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), *folder))
