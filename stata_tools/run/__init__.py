"""One run's pipeline: the do-file lexer, the log followed and parsed, the tracker, results."""
