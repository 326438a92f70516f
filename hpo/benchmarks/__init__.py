"""Built-in benchmark problems: synthetic functions, scikit-learn tasks, LCBench and a
PyTorch MLP on digits (``torch-digits``, multi-fidelity).

Importing this package registers every problem; none of them needs an optional
dependency until it is built (scikit-learn tasks) or evaluated (LCBench, onnxruntime;
torch-digits, torch).

>>> get_problem("branin").optimum
0.397887
"""

from __future__ import annotations

from hpo.benchmarks import lcbench as _lcbench  # noqa: F401 - registers the problems
from hpo.benchmarks import sklearn_tasks as _sklearn_tasks  # noqa: F401 - registers the problems
from hpo.benchmarks import synthetic as _synthetic  # noqa: F401 - registers the problems
from hpo.benchmarks import torch_digits as _torch_digits  # noqa: F401 - registers the problem
from hpo.benchmarks.base import Problem, available_problems, get_problem, register_problem

__all__ = ["Problem", "available_problems", "get_problem", "register_problem"]
