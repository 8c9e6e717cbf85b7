"""compare_estimates: choosing models, labelling and testing coefficients, the table; then the
reading through Stata's worker (holds put back) and the tool through MCP."""

from __future__ import annotations

import math

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from stata_tools.inspection.estimates import (
    MAX_MODELS,
    EstimatesError,
    build_table,
    choose_models,
    format_number,
    label_of,
    p_value,
    render_table,
    stars,
)
from stata_tools.mcp.server import get_session, mcp
from stata_tools.stata.queries.estimates import Estimates, EstimatesIndex, EstimatesRead

INDEX = EstimatesIndex(("m1", "m2"), "regress", "m2")
LABELS = {("foreign", 0): "Domestic", ("foreign", 1): "Foreign"}


def model(name: str, columns: list[str], b: list[float], v: list[float], **scalars: float):
    return Estimates(
        name,
        "regress",
        "price",
        "Linear regression",
        tuple(columns),
        tuple(b),
        tuple(v),
        tuple(scalars.items()),
    )


def test_choose_models_defaults_and_errors() -> None:
    assert choose_models(None, INDEX) == (("m1", "m2"), None)
    assert choose_models(["m2", "m1", "m2"], INDEX) == (("m2", "m1"), None)
    assert choose_models(["."], INDEX)[0] == (".",)
    active_only = EstimatesIndex((), "logit", "")
    chosen, note = choose_models(None, active_only)
    assert chosen == (".",) and note is not None and "no estimates are stored" in note
    with pytest.raises(EstimatesError, match=r"run a model and `estimates store name` first"):
        choose_models(None, EstimatesIndex((), "", ""))
    with pytest.raises(EstimatesError, match=r"no stored estimates named zz; stored: m1, m2"):
        choose_models(["m1", "zz"], INDEX)
    with pytest.raises(EstimatesError, match=r"'1bad': not a Stata name"):
        choose_models(["1bad"], INDEX)
    with pytest.raises(EstimatesError, match="names is empty"):
        choose_models([], INDEX)
    with pytest.raises(EstimatesError, match="there are none"):
        choose_models(["."], EstimatesIndex(("m1",), "", ""))
    many = EstimatesIndex(tuple(f"m{n}" for n in range(12)), "regress", "")
    with pytest.raises(EstimatesError, match=f"12 models asked for; .* at most {MAX_MODELS}"):
        choose_models(list(many.stored), many)
    chosen, note = choose_models(None, many)
    assert chosen == tuple(f"m{n}" for n in range(4, 12))
    assert (
        note == "12 models are stored; showing the last 8 (name the ones you want with names=[...])"
    )


def test_factor_variables_interactions_and_omitted_terms_are_labelled() -> None:
    assert label_of("1.foreign", LABELS) == "foreign = Foreign"
    assert label_of("0b.foreign", LABELS) == "foreign = Domestic"
    assert label_of("3.rep78", LABELS) == "rep78 = 3"
    assert label_of("1.foreign#c.mpg", LABELS) == "foreign = Foreign # mpg"
    assert label_of("0b.foreign#co.mpg", LABELS) == "foreign = Domestic # mpg"
    assert label_of("c.mpg#c.mpg", LABELS) == "mpg # mpg"
    assert label_of("o.weight", LABELS) == "weight"
    assert label_of("_cons", LABELS) == "_cons"


def test_p_values_stars_and_numbers() -> None:
    assert p_value(-4.5, 72) == pytest.approx(2.5548e-05, abs=1e-8)  # 2*ttail(72, 4.5)
    assert abs(p_value(1.959964, None) - 0.05) < 1e-6  # z
    assert abs(p_value(2.0, 10) - 0.07338803) < 1e-6  # 2*ttail(10, 2)
    assert [stars(p) for p in (0.0009, 0.009, 0.04, 0.05, None)] == ["***", "**", "*", "", ""]
    assert format_number(-238.8943) == "-238.89" and format_number(11253.06) == "11253"
    assert format_number(0.63075) == "0.63075" and format_number(1.2e-6) == "1.200e-06"
    assert format_number(math.nan) == "." and format_number(0.0) == "0"


def test_the_table_aligns_models_keeps_cons_last_and_equations_apart() -> None:
    m1 = model(
        "m1",
        ["mpg", "_cons"],
        [-238.8943, 11253.06],
        [53.07669**2, 1170.813**2],
        N=74,
        r2=0.2196,
        df_r=72,
        ll=-686.54,
        rank=2,
    )
    m2 = model(
        "m2",
        ["mpg", "0b.foreign", "1.foreign", "_cons"],
        [-294.1955, 0.0, 1767.292, 11905.42],
        [55.69172**2, 0.0, 700.158**2, 1158.634**2],
        N=74,
        r2=0.2838,
        df_r=71,
        rank=3,
        ll=-681.0,
    )
    logit = Estimates(
        "lg",
        "logit",
        "foreign",
        "Logistic regression",
        ("foreign:mpg", "foreign:_cons"),
        (0.1597, -4.3786),
        (0.0574**2, 1.2132**2),
        (("N", 74.0), ("r2_p", 0.1012), ("ll", -39.28), ("rank", 2.0)),
    )
    mlog = Estimates(
        "ml",
        "mlogit",
        "rep78",
        "",
        ("2:mpg", "2:_cons", "3:_cons", "3:mpg"),
        (0.1, 1.0, 2.0, 0.2),
        (0.01, 0.25, 0.25, 0.01),
        (("N", 69.0),),
    )
    read = EstimatesRead((m1, m2, logit, mlog), tuple((v, lv, t) for (v, lv), t in LABELS.items()))
    table = build_table(read)
    keys = [(row.equation, row.name) for row in table.rows]
    main = [k for k in keys if k[0] == ""]
    assert main == [("", "mpg"), ("", "0b.foreign"), ("", "1.foreign"), ("", "_cons")]
    assert keys[4:] == [
        ("foreign", "mpg"),
        ("foreign", "_cons"),
        ("2", "mpg"),
        ("2", "_cons"),
        ("3", "mpg"),
        ("3", "_cons"),
    ]
    assert [c.test for c in table.columns] == ["t", "t", "z", "z"]
    base = table.rows[1].cells[1]
    assert base is not None and base.base and base.se is None
    assert table.rows[0].cells[0].p == pytest.approx(2.55e-05, abs=1e-6)
    aic = table.columns[0].stats["aic"]
    assert aic == pytest.approx(-2 * -686.54 + 4) and "bic" in table.columns[0].stats
    text = render_table(table).splitlines()
    assert text[0] == (
        "4 models side by side: coefficient, (standard error) beneath; "
        "* p<0.05 ** p<0.01 *** p<0.001 (t with the model's e(df_r) and z (normal))"
    )
    assert text[1].split() == ["m1", "m2", "lg", "ml"]
    assert text[2].split() == ["regress", "regress", "logit", "mlogit"]
    assert text[3].split() == ["price", "price", "foreign", "rep78"]
    row = next(line for line in text if line.startswith("mpg "))
    assert row.split() == ["mpg", "-238.89***", "-294.20***"]
    assert text[text.index(row) + 1].split() == ["(53.077)", "(55.692)"]
    assert (
        next(line for line in text if line.startswith("foreign = Domestic")).split()[-1] == "(base)"
    )
    assert "[foreign]" in text and "[2]" in text and "[main]" in text
    cons = [n for n, line in enumerate(text) if line.startswith("_cons")]
    assert text[cons[0] - 2].startswith("foreign = Foreign")  # _cons after every other term
    n_row = next(line for line in text if line.startswith("N "))
    assert n_row.split() == ["N", "74", "74", "74", "69"]
    assert next(line for line in text if line.startswith("pseudo R²")).split()[-1] == "0.1012"
    # the digits line up: stars hang to the right in their own three places
    assert row.index("-238.89") + len("-238.89") == text[text.index(row) + 1].index(")")


# --- through Stata's worker and MCP -----------------------------------------------------------

SETUP = """\
clear all
sysuse auto
regress price mpg
estimates store m1
regress price mpg i.foreign
estimates store m2
regress price weight
summarize mpg
"""


@pytest.fixture
async def client():
    async with Client(mcp) as c:
        result = await c.call_tool("run_code", {"code": SETUP})
        assert not result.is_error
        yield c


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(block.text for block in result.content if block.type == "text")


async def test_two_stored_regressions_compared_over_mcp(client: Client) -> None:
    result = await client.call_tool("compare_estimates", {})
    text = text_of(result).splitlines()
    assert text[1].split() == ["m1", "m2"] and text[2].split() == ["regress", "regress"]
    assert next(x for x in text if x.startswith("mpg ")).split() == [
        "mpg",
        "-238.89***",
        "-294.20***",
    ]
    assert next(x for x in text if x.startswith("foreign = Foreign")).split()[-1] == "1767.3*"
    assert next(x for x in text if x.startswith("foreign = Domestic")).split()[-1] == "(base)"
    assert next(x for x in text if x.startswith("R² ")).split() == ["R²", "0.2196", "0.2838"]
    assert text[-1].startswith("root MSE")
    meta = result.meta
    assert [m["name"] for m in meta["models"]] == ["m1", "m2"]
    assert meta["models"][1]["stats"]["N"] == 74 and meta["legend"].startswith("* p<0.05")
    foreign = next(r for r in meta["rows"] if r["name"] == "1.foreign")
    assert foreign["cells"][0] is None and round(foreign["cells"][1]["b"], 3) == 1767.292


async def test_the_users_results_and_data_are_left_as_they_were(client: Client) -> None:
    await client.call_tool("compare_estimates", {"names": ["m2", ".", "m1"]})
    after = await client.call_tool(
        "run_code", {"code": 'display e(cmdline) "|" r(N) "|" r(mean) "|" _N "|" c(k)'}
    )
    assert "regress price weight|74|21.297297|74|14" in text_of(after)  # 12 + _est_m1, _est_m2
    assert "data" not in after.meta  # the display itself changed nothing
    active = await client.call_tool("compare_estimates", {"names": ["."]})
    assert text_of(active).splitlines()[1].split() == ["(active)"]
    assert any(x.startswith("weight ") for x in text_of(active).splitlines())


async def test_bad_names_and_no_estimates_are_clear_errors(client: Client) -> None:
    with pytest.raises(ToolError, match=r"no stored estimates named nosuch; stored: m1, m2"):
        await client.call_tool("compare_estimates", {"names": ["m1", "nosuch"]})
    with pytest.raises(ToolError, match="not a Stata name"):
        await client.call_tool("compare_estimates", {"names": ["a b"]})
    await client.call_tool("run_code", {"code": "clear all"})
    with pytest.raises(ToolError, match=r"run a model and `estimates store name` first"):
        await client.call_tool("compare_estimates", {})
    await client.call_tool("run_code", {"code": "sysuse auto\nregress price mpg"})
    result = await client.call_tool("compare_estimates", {})
    assert "no estimates are stored: showing the active results (regress)" in text_of(result)


async def test_the_reading_query_runs_in_the_worker_and_puts_holds_back() -> None:
    import functools

    from stata_tools.stata.queries.estimates import estimates_index, read_estimates

    session = get_session()
    from stata_tools import RunRequest

    await session.execute(RunRequest(code=SETUP))
    index = await session.query(estimates_index)
    assert index.stored == ("m1", "m2") and index.active_cmd == "regress"
    read = await session.query(functools.partial(read_estimates, names=("m2",)))
    assert read.models[0].columns == ("mpg", "0b.foreign", "1.foreign", "_cons")
    assert ("foreign", 1, "Foreign") in read.value_labels
    assert dict(read.models[0].scalars)["df_r"] == 71.0
    with pytest.raises(SystemError, match=r"r\(111\)"):
        await session.query(functools.partial(read_estimates, names=("m1", "gone")))
    check = await session.execute(RunRequest(code='display e(cmdline) "|" r(N)'))
    assert "regress price weight|74" in check.output.text  # put back after the failure too
