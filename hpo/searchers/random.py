"""Random search: uniform in the encoded space, or a scrambled Sobol sequence.

Each draw ``i`` uses its own generator seeded with ``(seed, i)``, and ``i`` comes from
the study's shared counter, so a seeded study is reproducible and processes sharing a
study never draw the same point twice.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.searchers.base import Searcher, Suggestion
from hpo.space import Param, Space

if TYPE_CHECKING:
    from scipy.stats import qmc


class RandomSearcher(Searcher):
    """Independent uniform sampling (``sobol=False``) or quasi-random Sobol points.

    >>> s = RandomSearcher(Space({"x": Float(0, 1)}), seed=0)   # doctest: +SKIP
    >>> s.ask(2)                                                  # doctest: +SKIP
    """

    name = "random"
    supports_define_by_run = True

    def __init__(
        self,
        space: Space | None,
        *,
        direction: str = "minimize",
        seed: int | None = None,
        sobol: bool = False,
    ) -> None:
        super().__init__(space, direction=direction, seed=seed)
        self.sobol = bool(sobol)
        self._sobol_seed = seed if seed is not None else int(self.rng.integers(2**31))
        self._sobol: qmc.Sobol | None = None
        self._sobol_pos = 0

    def _sobol_point(self, index: int) -> np.ndarray:
        d = self.space.n_dims
        if self._sobol is None or index < self._sobol_pos:
            # scipy.stats costs ~0.4 s to import: only Sobol studies pay for it.
            from scipy.stats import qmc

            self._sobol = qmc.Sobol(d, scramble=True, seed=self._sobol_seed)
            self._sobol_pos = 0
        if index > self._sobol_pos:
            self._sobol.fast_forward(index - self._sobol_pos)
        self._sobol_pos = index + 1
        return self._sobol.random(1)[0]

    def _ask(self, n: int) -> list[Suggestion]:
        out = []
        for _ in range(n):
            index = self._next_index("draw")
            if self.sobol and self.space.n_dims:
                config = self.space.decode(self._sobol_point(index))
            else:
                config = self.space.sample(self._rng_for(index))
            out.append(Suggestion(config, info={"draw": index}))
        return out

    def _suggest_param(
        self, trial_number: int, config: dict[str, Any], name: str, param: Param
    ) -> Any:
        key = zlib.crc32(name.encode())
        entropy = [trial_number, key] if self.seed is None else [self.seed, trial_number, key]
        if self.seed is None:
            entropy.append(self._sobol_seed)
        return param.sample(np.random.default_rng(entropy))

    def _state(self) -> dict[str, Any]:
        return {"sobol_seed": self._sobol_seed}

    def _load_state(self, state: dict[str, Any]) -> None:
        self._sobol_seed = int(state.get("sobol_seed", self._sobol_seed))
        self._sobol = None
