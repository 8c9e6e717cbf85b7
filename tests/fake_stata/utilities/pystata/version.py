"""The pystata version the fake mirrors (0.1.1: `init(edition, splash=True)`)."""

version = "0.1.1"
