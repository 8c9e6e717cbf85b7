"""Stata's logs as written: a growing file followed, its lines parsed, batch and NFS logs."""
