"""Reads between runs that the MCP tools ask of Stata, as module-level functions.

They cross to Stata's worker by reference (pickle), so each is a plain function of
`(pystata, sfi, ...)`; bind arguments with functools.partial. Whatever they touch in Stata they
put back: the user's data, sort order, r() and e() are as they were.
"""
