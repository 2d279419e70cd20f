import os
import sys

# --import-mode=importlib: make the bench helpers next to these tests importable.
sys.path.insert(0, os.path.dirname(__file__))
