"""Teacher trace generation: N samples per problem, concurrent, rate-limited, crash-safe and
resumable (see :mod:`toolkit.generation.engine` for how, :mod:`toolkit.generation.state` for
the files, :mod:`toolkit.generation.traces` for the API).

Seed recipes call the teacher in a sequential loop and lose everything when the job dies. Here
every finished sample is durable the moment it arrives, a re-run of the same call resumes, and
the output is the trace schema (:mod:`toolkit.schema`) with reasoning and answer split and the
teacher, params, finish reason, usage, latency, sample index and template in ``metadata``.
``shard=(i, N)`` takes the i-th of N contiguous blocks of problems; :func:`merge_shards` joins
the shards' outputs into the table one unsharded run would have produced.

Names are imported on first use, so the CLI can read :class:`GenerateConfig` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.lazy import lazy_getattr

_EXPORTS = {
    "GenerateConfig": "toolkit.generation.config:GenerateConfig",
    "GenerationResult": "toolkit.generation.traces:GenerationResult",
    "GenerationSummary": "toolkit.generation.traces:GenerationSummary",
    "agenerate": "toolkit.generation.traces:agenerate",
    "default_state_dir": "toolkit.generation.traces:default_state_dir",
    "generate": "toolkit.generation.traces:generate",
    "lines_to_dataset": "toolkit.generation.traces:lines_to_dataset",
    "merge_shards": "toolkit.generation.traces:merge_shards",
    "RateLimiter": "toolkit.generation.limits:RateLimiter",
    "RunSummary": "toolkit.generation.settings:RunSummary",
    "run_event_loop": "toolkit.generation.engine:run_event_loop",
    "parse_shard": "toolkit.generation.problems:parse_shard",
    "request_key": "toolkit.generation.problems:request_key",
    "shard_range": "toolkit.generation.problems:shard_range",
    "read_jsonl_tolerant": "toolkit.generation.state:read_jsonl_tolerant",
}

__all__ = [
    "GenerateConfig",
    "GenerationResult",
    "GenerationSummary",
    "RateLimiter",
    "RunSummary",
    "agenerate",
    "default_state_dir",
    "generate",
    "lines_to_dataset",
    "merge_shards",
    "parse_shard",
    "read_jsonl_tolerant",
    "request_key",
    "run_event_loop",
    "shard_range",
]

if TYPE_CHECKING:
    from toolkit.generation.config import GenerateConfig
    from toolkit.generation.engine import run_event_loop
    from toolkit.generation.limits import RateLimiter
    from toolkit.generation.problems import parse_shard, request_key, shard_range
    from toolkit.generation.settings import RunSummary
    from toolkit.generation.state import read_jsonl_tolerant
    from toolkit.generation.traces import (
        GenerationResult,
        GenerationSummary,
        agenerate,
        default_state_dir,
        generate,
        lines_to_dataset,
        merge_shards,
    )


__getattr__ = lazy_getattr(__name__, globals(), _EXPORTS)
