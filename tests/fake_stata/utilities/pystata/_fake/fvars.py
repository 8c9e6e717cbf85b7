"""Factor variables in an estimation varlist, named as Stata names e(b)'s columns.

The subset the fake knows: `var`, `c.var`, `i.var`, `ib#.var` / `ib(#).var`, and interactions
`a#b` / `a##b` of one factor with one continuous variable (or two continuous ones). The base level
of a factor is the lowest unless `ib` says otherwise; its column is kept in e(b) as `0b.foreign`,
with coefficient 0 and variance 0 (omitted from the fit). An interaction of a factor whose main
effect is in the model omits the base level's slope (`0b.foreign#co.mpg`); without the main effect
every level gets one (`0.foreign#c.mpg 1.foreign#c.mpg`). Other forms raise r(198).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .dataset import Dataset, Variable
from .errors import StataError

_OP = re.compile(r"^(c|i|ib(\d+)|ib\((\d+)\))\.(\w+)$")


@dataclass(frozen=True, slots=True)
class Element:
    """One variable of a term: continuous, or a factor with its base level (None: lowest)."""

    var: Variable
    factor: bool
    base: int | None = None


@dataclass(frozen=True, slots=True)
class Term:
    elements: tuple[Element, ...]
    text: str  # as the user wrote it, after `##` expansion

    @property
    def is_factor(self) -> bool:
        return any(e.factor for e in self.elements)


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the design: its e(b) name, how to compute it at an observation, omitted."""

    name: str
    value: Callable[[int], float]
    omitted: bool
    term: Term
    level: int | None = None  # the factor's level for this column


def parse_terms(words: list[str], data: Dataset) -> list[Term]:
    """The regressors after the depvar; plain names may be abbreviations or varlists."""
    terms: list[Term] = []
    for word in words:
        if "##" in word:
            left, right = word.split("##", 1)
            if "#" in right:
                raise StataError(198, f"{word}: the fake knows interactions of two variables only")
            terms += [_term(left, data), _term(right, data), _term(f"{left}#{right}", data)]
        elif "#" in word or "." in word:
            terms.append(_term(word, data))
        else:
            terms += [Term((Element(v, False),), v.name) for v in data.varlist(word)]
    return terms


def _term(text: str, data: Dataset) -> Term:
    parts = text.split("#")
    if len(parts) > 2:
        raise StataError(198, f"{text}: the fake knows interactions of two variables only")
    elements = []
    for part in parts:
        m = _OP.match(part)
        if m is None:
            if "." in part:
                raise StataError(198, f"{part}: factor-variable operator not known to the fake")
            elements.append(Element(data.find(part), False))  # `a#b` makes a and b factors
            continue
        op, base = m.group(1), m.group(2) or m.group(3)
        var = data.find(m.group(4))
        elements.append(Element(var, op != "c", int(base) if base else None))
    if len(parts) == 2 and "." not in text:
        elements = [Element(e.var, True) for e in elements]
    if sum(e.factor for e in elements) > 1:
        raise StataError(198, f"{text}: the fake knows factor-by-continuous interactions only")
    for element in elements:
        if element.var.is_str:
            raise StataError(109, f"{element.var.name}:  string variable not allowed")
    return Term(tuple(elements), text)


def variables_of(terms: list[Term]) -> list[Variable]:
    seen: list[Variable] = []
    for term in terms:
        for element in term.elements:
            if element.var not in seen:
                seen.append(element.var)
    return seen


def columns(terms: list[Term], rows: list[int]) -> list[Column]:
    """The design's columns over the estimation sample, in Stata's order."""
    mains = {t.elements[0].var.name for t in terms if len(t.elements) == 1 and t.is_factor}
    out: list[Column] = []
    for term in terms:
        if not term.is_factor:
            name = "#".join(
                f"c.{e.var.name}" if len(term.elements) > 1 else e.var.name for e in term.elements
            )
            out.append(Column(name, _product(term.elements, None), False, term))
            continue
        factor = next(e for e in term.elements if e.factor)
        levels = _levels(factor.var, rows)
        base = factor.base if factor.base is not None else levels[0]
        if factor.base is not None and factor.base not in levels:
            raise StataError(111, f"{factor.var.name}: level {factor.base} not found")
        with_base = len(term.elements) == 1 or factor.var.name in mains
        for level in levels:
            is_base = with_base and level == base
            names = []
            for e in term.elements:
                if e.factor:
                    names.append(f"{level}{'b' if is_base else ''}.{e.var.name}")
                else:
                    names.append(f"c{'o' if is_base else ''}.{e.var.name}")
            out.append(Column("#".join(names), _product(term.elements, level), is_base, term, level))
    return out


def _levels(var: Variable, rows: list[int]) -> list[int]:
    values = {var.values[i] for i in rows}
    levels = []
    for value in values:
        assert isinstance(value, float)
        if value != int(value):
            raise StataError(452, "factor variables may not contain noninteger values")
        if value < 0:
            raise StataError(452, "factor variables may not contain negative values")
        levels.append(int(value))
    return sorted(levels)


def _product(elements: tuple[Element, ...], level: int | None) -> Callable[[int], float]:
    def value(i: int) -> float:
        out = 1.0
        for e in elements:
            x = e.var.values[i]
            assert isinstance(x, float)
            out *= (1.0 if x == level else 0.0) if e.factor else x
        return out

    return value
