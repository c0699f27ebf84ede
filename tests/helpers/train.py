"""Shared pieces of the training tests (``tests/test_train_*.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

#: Hand-written chat traces (with ``<think>`` blocks) the tiny-model training tests train on.
TRACES_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "train" / "traces.jsonl"


def one_torch_thread() -> Iterator[None]:
    """Run a test with torch on one thread, restoring the previous count afterwards.

    Tiny models are dominated by threading overhead, and on a 2-core box shared with other work
    more threads only add contention: one thread is faster and steadier. Wrap it per module with
    ``_one_thread = pytest.fixture(autouse=True)(one_torch_thread)``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
