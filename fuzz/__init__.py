"""Deterministic fuzzing of the parsers that read untrusted text: `python -m fuzz --help`.

Targets: the do-file lexer (`split_commands` may only raise `DoFileError`), the log classifier
(`parse_lines`, `smcl_to_text`: no exception at all), the command policy (`check`: no exception at
all) and the progress tracker (any log against any do-file, called do-files too: no exception,
progress only grows and stays below the total). Inputs are mutated real logs and do-files from
/work/shared/stata-corpus, compositions of Stata syntax (comments, `///`, `#delimit`, braces,
quotes, macros, blocks) and random bytes, all decoded latin-1 so every byte value reaches the
parsers. The same --seed gives the same inputs.
"""
