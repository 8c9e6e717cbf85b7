"""Pure arithmetic for estimation: OLS and the t and F distributions, without NumPy or SciPy."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import StataError


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    front = math.exp(ln + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def ttail2(df: float, t: float) -> float:
    """Two-sided p-value of t with df degrees of freedom (Stata's 2*ttail(df, abs(t)))."""
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def ftail(df1: float, df2: float, f: float) -> float:
    """Upper tail of F(df1, df2) at f (Stata's Ftail)."""
    if f <= 0:
        return 1.0
    return betainc(df2 / 2.0, df1 / 2.0, df2 / (df2 + df1 * f))


def invttail(df: float, p: float) -> float:
    """The t with upper tail p (Stata's invttail), by bisection."""
    lo, hi = 0.0, 1e6
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if ttail2(df, mid) / 2.0 > p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def invert(m: list[list[float]]) -> list[list[float]]:
    """Gauss-Jordan inverse with partial pivoting; singular matrices are Stata's r(2000)-ish."""
    n = len(m)
    a = [[*row, *(1.0 if i == j else 0.0 for j in range(n))] for i, row in enumerate(m)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[piv][col]) < 1e-12 * max(1.0, max(abs(v) for v in m[col])):
            raise StataError(2001, "insufficient observations")
        a[col], a[piv] = a[piv], a[col]
        p = a[col][col]
        a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0.0:
                f = a[r][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


@dataclass(frozen=True, slots=True)
class Ols:
    b: tuple[float, ...]  # the regressors' coefficients, then _cons
    V: tuple[tuple[float, ...], ...]
    N: int
    df_m: int
    df_r: int
    mss: float
    rss: float
    tss: float

    @property
    def r2(self) -> float:
        return self.mss / self.tss if self.tss else 0.0

    @property
    def r2_a(self) -> float:
        return 1.0 - (1.0 - self.r2) * (self.N - 1) / self.df_r

    @property
    def rmse(self) -> float:
        return math.sqrt(self.rss / self.df_r)

    @property
    def F(self) -> float:
        return (self.mss / self.df_m) / (self.rss / self.df_r) if self.df_m else 0.0

    @property
    def ll(self) -> float:
        return -0.5 * self.N * (1.0 + math.log(2 * math.pi) + math.log(self.rss / self.N))

    @property
    def ll_0(self) -> float:
        return -0.5 * self.N * (1.0 + math.log(2 * math.pi) + math.log(self.tss / self.N))


def ols(y: list[float], xs: list[list[float]]) -> Ols:
    """Least squares of y on the columns xs plus a constant, as `regress` computes it."""
    n, k = len(y), len(xs) + 1
    if n == 0:
        raise StataError(2000, "no observations")
    if n < k:
        raise StataError(2001, "insufficient observations")
    cols = [*xs, [1.0] * n]
    xtx = [[math.fsum(a * b for a, b in zip(ci, cj, strict=True)) for cj in cols] for ci in cols]
    xty = [math.fsum(a * b for a, b in zip(ci, y, strict=True)) for ci in cols]
    inv = invert(xtx)
    b = [math.fsum(inv[i][j] * xty[j] for j in range(k)) for i in range(k)]
    fitted = [math.fsum(b[j] * cols[j][i] for j in range(k)) for i in range(n)]
    rss = math.fsum((yi - fi) ** 2 for yi, fi in zip(y, fitted, strict=True))
    mean = math.fsum(y) / n
    tss = math.fsum((yi - mean) ** 2 for yi in y)
    df_r = n - k
    s2 = rss / df_r if df_r > 0 else float("nan")
    V = tuple(tuple(s2 * (inv[i][j] + inv[j][i]) / 2 for j in range(k)) for i in range(k))
    return Ols(tuple(b), V, n, k - 1, df_r, tss - rss, rss, tss)
