"""The machinery behind the fake pystata: an interpreter for a subset of Stata and its logs.

Private: the public surface is pystata.config, pystata.stata and sfi, as in a real installation.
"""
