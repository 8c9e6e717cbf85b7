"""Slurm: the sbatch script for a batch Stata run, and what squeue/scontrol/sacct say of it."""
