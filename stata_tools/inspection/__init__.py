"""Looking without running: stored results, data, .dta files, help, do-file checks."""
