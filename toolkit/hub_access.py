"""Whether the Hugging Face Hub can be reached, decided once per process.

Offline (air-gapped clusters, CI, a laptop on a train) every Hub lookup in ``huggingface_hub``
and ``datasets`` spends its retries and back-off before failing: about 23 s per benchmark set, so
``toolkit curate decontaminate`` against five benchmarks stalled for two minutes before saying
they were unavailable. :func:`require_hub_or_offline` probes the endpoint once (a 3 s HEAD) and,
when nothing answers, switches both libraries to offline mode, where a lookup fails at once and
a cached copy still loads.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("toolkit")

_decided: bool | None = None  # None: not probed yet in this process


def hub_offline_set() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").strip().lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hub endpoint answers at all (any HTTP status counts as reachable)."""
    import urllib.error
    import urllib.request  # here: ~25 ms that `toolkit --help` need not pay

    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def go_offline() -> None:
    """Switch huggingface_hub and datasets to offline mode in this process.

    Both read ``HF_HUB_OFFLINE`` once, at import, so the environment variable alone would only
    reach subprocesses.
    """
    import datasets.config
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    datasets.config.HF_HUB_OFFLINE = True
    datasets.config.HF_DATASETS_OFFLINE = True


def require_hub_or_offline() -> bool:
    """``True`` when the Hub may be used; otherwise offline mode is on (probed once, logged
    once) and Hub lookups fail fast."""
    global _decided
    if hub_offline_set():
        return False
    if _decided is None:
        _decided = hub_reachable()
        if not _decided:
            log.warning("The Hugging Face Hub is unreachable: working offline.")
            go_offline()
    return _decided


__all__ = ["go_offline", "hub_offline_set", "hub_reachable", "require_hub_or_offline"]
