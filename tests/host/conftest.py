import os
import sys

# The CSR bench (a stand-in for the datapath) lives with the CSR gateware tests.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "gateware", "csr"))
