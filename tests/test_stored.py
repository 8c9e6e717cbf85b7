from __future__ import annotations

from stata_tools.inspection.stored import (
    StoredResults,
    format_number,
    matrix_from,
    render_matrix,
    render_stored,
)


def test_numbers_look_like_stata() -> None:
    assert [format_number(v) for v in (74, 6165.256756756757, 8.99e307, float("nan"), -0.5)] == [
        "74",
        "6165.257",
        ".",
        ".",
        "-0.5",
    ]


def test_stored_results_render_scalars_macros_and_labelled_matrices() -> None:
    b = matrix_from("e(b)", ["y1"], ["mpg", "weight", "_cons"], [[-49.51222, 1.746559, 1946.069]])
    results = StoredResults(
        "e",
        scalars={"e(N)": 74.0, "e(r2)": 0.2933891},
        macros={"e(cmd)": "regress", "e(depvar)": "price"},
        matrices=(b,),
    )
    assert render_stored(results).splitlines() == [
        "scalars:",
        "   e(N) = 74",
        "  e(r2) = 0.2933891",
        "macros:",
        "     e(cmd) : regress",
        "  e(depvar) : price",
        "matrix e(b) [1,3]:",
        "            mpg    weight     _cons",
        "  y1  -49.51222  1.746559  1946.069",
    ]


def test_big_matrices_are_cut_with_a_note() -> None:
    names = [f"v{n}" for n in range(40)]
    big = matrix_from("e(V)", names, names, [[float(i == j) for j in range(40)] for i in range(40)])
    text = render_matrix(big, max_rows=5, max_cols=4)
    lines = text.splitlines()
    assert len(lines) == 1 + 5 + 1
    assert lines[0].split() == ["v0", "v1", "v2", "v3"]
    assert lines[-1] == (
        "  (showing 5 of 40 rows and 4 of 40 columns; `matrix list` in run_code shows it whole)"
    )


def test_nothing_stored_says_so() -> None:
    assert render_stored(StoredResults("r")) == (
        "No r() results are stored (run an r-class or e-class command first)."
    )
