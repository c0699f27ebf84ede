"""Fixtures shared by every test module.

Area-specific helpers live in ``tests/helpers/`` (loopback servers, tiny models); fixture data in
``tests/fixtures/``. Nothing here reaches the network: the real SmolLM2 model comes from a PyPI
wheel (see :mod:`toolkit.models`), benchmark files from ``../shared/data`` when present.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_toolkit_home(tmp_path_factory, monkeypatch):
    """Each test gets its own local store and run state, but shares the model cache."""
    home = tmp_path_factory.mktemp("toolkit_home")
    models = Path(os.environ.get("TOOLKIT_MODEL_CACHE", REPO / ".toolkit"))
    monkeypatch.setenv("TOOLKIT_HOME", str(home))
    monkeypatch.setenv("TOOLKIT_STORE", str(home / "store"))
    monkeypatch.setenv("TOOLKIT_MODEL_CACHE", str(models))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    yield


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real benchmark files; tests using them skip cleanly where the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def benchmark_data() -> Path:
    """Real benchmark rows vendored with their licence (tests/fixtures/benchmarks/README.md):
    the first rows of GSM8K and MATH-500 and all of AIME 2024. Always present, CI included."""
    return FIXTURES / "benchmarks"


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M-Instruct as a transformers directory (cached under .toolkit/)."""
    from toolkit.models import smollm2_model_dir

    os.environ.setdefault("TOOLKIT_MODEL_CACHE", str(REPO / ".toolkit"))
    return smollm2_model_dir()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny randomly initialised Llama-style model with a real BPE tokenizer and chat template."""
    from toolkit.models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")
