"""`make bench`: measured figures (cycle-exact from simulation, wall-clock ratios from one run)."""
