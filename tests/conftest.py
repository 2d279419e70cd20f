import os
import sys

# --import-mode=importlib: the test benches shared across folders - the CSR bench (a stand-in for
# the datapath, and the SA write encoding) and the control-block bench - are importable by name.
for folder in (("gateware", "csr"), ("gateware", "esp")):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), *folder))
