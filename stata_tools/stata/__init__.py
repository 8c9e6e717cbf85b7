"""Stata itself: discovery, its worker, sessions, runs kept on disk, batch and Slurm."""
