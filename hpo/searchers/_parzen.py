"""Parzen-window mixtures over the encoded space, the density machinery of TPE.

A point is a row with one column per parameter: the encoded value ``u`` in ``[0, 1]``
for ``Float`` / ``Int`` (log scales are linear there) and the choice index for a
``Categorical``; ``NaN`` marks an inactive (conditional) parameter. A
:class:`ParzenMixture` has one component per observation plus a *prior* component, with
weights ``1`` each and ``prior_weight`` for the prior. A component is a product over
parameters of

* a Gaussian truncated to ``[0, 1]`` (continuous ``Float``);
* the same Gaussian integrated over each value's bin (``Int`` and stepped ``Float``), so
  every grid value gets the kernel's mass on its bin and nothing lies off the grid;
* an Aitchison-Aitken kernel (``1 - eps`` on the observed choice, ``eps`` spread over the
  others) for a ``Categorical``;

and where the observation lacks a parameter (inactive there) or for the prior component,
the uniform density of that parameter. The density of a point multiplies only over its
active parameters, which makes it a proper density over the tree-structured space, and
sampling draws one component for all parameters at once (multivariate).

Bandwidths follow Scott's rule per parameter, ``1.06 * s * n ** (-1 / (d + 4))``, with
``s`` the spread of the component centres shrunk toward the uniform prior's (so two
close observations do not give a needle), clipped to ``[min_bandwidth, 1]``.

>>> dims = [Dim.of(Float(0, 1)), Dim.of(Categorical(["a", "b"]))]     # doctest: +SKIP
>>> mix = ParzenMixture(np.array([[0.2, 1.0]]), dims)                   # doctest: +SKIP
>>> mix.log_pdf(mix.sample(np.random.default_rng(0), 4))                # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

from hpo.space import Categorical, Float, Int, Param

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
#: smallest kernel width, as a fraction of the encoded range
MIN_BANDWIDTH = 0.01


@dataclass(frozen=True)
class Dim:
    """How one parameter is modelled: ``kind`` is ``"float"``, ``"grid"`` or ``"cat"``;
    ``size`` the number of grid values or choices; ``log_int`` the ``(low, high, a, b)``
    of a log-scaled ``Int`` (its bins are equal in log, not in ``u``)."""

    kind: str
    size: int = 0
    log_int: tuple[int, int, float, float] | None = None

    @classmethod
    def of(cls, param: Param) -> Dim:
        if isinstance(param, Categorical):
            return cls("cat", len(param.choices))
        if isinstance(param, Int):
            if param.log:
                a, b = param._log_edges()
                return cls("grid", param.n_values, (param.low, param.high, a, b))
            return cls("grid", param.n_values)
        assert isinstance(param, Float)
        return cls("float") if param.step is None else cls("grid", param.n_values or 1)

    def bin_edges(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The encoded interval of the grid value that ``u`` decodes to."""
        if self.log_int is not None:
            low, high, a, b = self.log_int
            v = np.clip(np.round(np.exp(a + np.clip(u, 0, 1) * (b - a))), low, high)
            return (np.log(v - 0.5) - a) / (b - a), (np.log(v + 0.5) - a) / (b - a)
        idx = np.clip(np.floor(u * self.size), 0, self.size - 1)
        return idx / self.size, (idx + 1) / self.size

    def log_prior(self, x: np.ndarray) -> np.ndarray:
        """Log density (mass for grids and choices) of the uniform prior at ``x``."""
        if self.kind == "float":
            return np.zeros_like(x)
        if self.kind == "cat":
            return np.full_like(x, -math.log(self.size))
        lo, hi = self.bin_edges(x)
        return np.log(hi - lo)


def log_gauss_mass(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``log(Phi(b) - Phi(a))`` for ``a <= b``; computed in the lower tail (flipping an
    interval above 0), where ``Phi`` keeps its relative precision. A mass that underflows
    gives ``-inf``: such a kernel adds nothing next to the prior component."""
    a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
    flip = a > 0
    lo, hi = np.where(flip, -b, a), np.where(flip, -a, b)
    with np.errstate(divide="ignore"):
        return np.log(ndtr(hi) - ndtr(lo))


def scott_bandwidth(centres: np.ndarray, n_params: int, prior_weight: float) -> float:
    """Scott's rule on the centres' spread shrunk toward the uniform prior's (var 1/12)."""
    n = centres.size
    if n == 0:
        return 1.0
    var = (np.sum((centres - centres.mean()) ** 2) + prior_weight / 12.0) / (n + prior_weight)
    h = 1.06 * math.sqrt(var) * (n + prior_weight) ** (-1.0 / (n_params + 4))
    return float(np.clip(h, MIN_BANDWIDTH, 1.0))


def aitchison_aitken_eps(n: int, size: int, n_params: int) -> float:
    """Mass a categorical kernel spreads off its observed choice; shrinks with ``n``."""
    if size <= 1:
        return 0.0
    return (size - 1) / size * 0.5 * (n + 1) ** (-1.0 / (n_params + 4))


class ParzenMixture:
    """Equal-weight kernels at ``centres`` (rows, ``NaN`` = inactive) plus a prior."""

    def __init__(
        self, centres: np.ndarray, dims: Sequence[Dim], *, prior_weight: float = 1.0
    ) -> None:
        self.centres = np.asarray(centres, dtype=float).reshape(-1, len(dims))
        self.dims = list(dims)
        k = self.centres.shape[0]
        weights = np.append(np.ones(k), prior_weight)
        self.log_weights = np.log(weights / weights.sum())
        self.width = np.ones(len(dims))  # sigma (numeric) or eps (categorical)
        self._log_norm: list[np.ndarray] = []  # per dim: log mass of each kernel on [0, 1]
        for p, dim in enumerate(self.dims):
            col = self.centres[:, p]
            active = col[~np.isnan(col)]
            if dim.kind == "cat":
                self.width[p] = aitchison_aitken_eps(active.size, dim.size, len(dims))
                self._log_norm.append(np.zeros(k))
            else:
                sigma = scott_bandwidth(active, len(dims), prior_weight)
                self.width[p] = sigma
                mu = np.nan_to_num(col, nan=0.5)
                self._log_norm.append(log_gauss_mass(-mu / sigma, (1 - mu) / sigma))

    @property
    def n_components(self) -> int:
        return self.centres.shape[0] + 1

    def _kernel_log_pdf(self, p: int, x: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``(len(x), len(rows))`` log kernel values of dim ``p`` for kernels ``rows``."""
        dim, mu = self.dims[p], self.centres[rows, p][None, :]
        width, log_norm = self.width[p], self._log_norm[p][rows][None, :]
        xc = x[:, None]
        if dim.kind == "cat":
            same = np.isclose(xc, mu)
            off = math.log(width / (dim.size - 1)) if dim.size > 1 and width > 0 else -np.inf
            with np.errstate(divide="ignore"):
                return np.where(same, math.log1p(-width), off)
        if dim.kind == "float":
            z = (xc - mu) / width
            return -0.5 * z * z - _LOG_SQRT_2PI - math.log(width) - log_norm
        lo, hi = dim.bin_edges(x)
        return log_gauss_mass((lo[:, None] - mu) / width, (hi[:, None] - mu) / width) - log_norm

    def log_pdf(self, x: np.ndarray) -> np.ndarray:
        """Log density at each row of ``x`` (``NaN`` = inactive, left out of the product)."""
        x = np.asarray(x, dtype=float).reshape(-1, len(self.dims))
        total = np.tile(self.log_weights, (x.shape[0], 1))
        k = self.centres.shape[0]
        for p, dim in enumerate(self.dims):
            on = ~np.isnan(x[:, p])
            if not on.any():
                continue
            xp = x[on, p]
            block = np.repeat(dim.log_prior(xp)[:, None], k + 1, axis=1)
            rows = np.flatnonzero(~np.isnan(self.centres[:, p]))
            if rows.size:
                block[:, rows] = self._kernel_log_pdf(p, xp, rows)
            total[on] += block
        return np.asarray(logsumexp(total, axis=1))

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` rows, each drawn from one component for all its dims (all dims filled;
        the caller blanks out the ones inactive in the result)."""
        comp = rng.choice(self.n_components, size=n, p=np.exp(self.log_weights))
        out = np.empty((n, len(self.dims)))
        for p, dim in enumerate(self.dims):
            mu = np.append(self.centres[:, p], np.nan)[comp]
            free = np.isnan(mu)  # the prior, or an observation where p was inactive
            r = rng.random(n)
            if dim.kind == "cat":
                uniform = np.floor(r * dim.size)
                other = np.floor(rng.random(n) * (dim.size - 1))
                shifted = np.where(other >= mu, other + 1, other)  # a choice other than mu
                keep = rng.random(n) >= self.width[p]
                out[:, p] = np.where(free, uniform, np.where(keep, mu, shifted))
            else:
                sigma, m = self.width[p], np.nan_to_num(mu, nan=0.5)
                lo, hi = ndtr(-m / sigma), ndtr((1 - m) / sigma)
                draw = m + sigma * ndtri(np.clip(lo + r * (hi - lo), 1e-300, 1 - 1e-16))
                out[:, p] = np.where(free, r, np.clip(draw, 0.0, 1.0))
        return out
