"""The command-line face: `stata-tools serve|run|check|doctor|config`."""
