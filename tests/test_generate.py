"""The generation engine end to end against loopback servers: records, faults, resume, shards."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter

import datasets
import pytest
from typer.testing import CliRunner

from tests.helpers.servers import FaultPlan, OpenAIServer
from toolkit.backends import SamplingParams, backoff_delay
from toolkit.cli.app import app
from toolkit.errors import BackendError, DataError, EmptyOutputError, UsageError
from toolkit.generation import (
    GenerateConfig,
    RateLimiter,
    generate,
    merge_shards,
    parse_shard,
    read_jsonl_tolerant,
    request_key,
    shard_range,
)
from toolkit.generation.prompts import (
    OPEN_R1_INSTRUCTION,
    SKY_T1_SYSTEM_PROMPT,
    TEMPLATES,
    PromptTemplate,
    get_template,
)
from toolkit.schema import loads_metadata, validate_dataset

PROBLEMS = [f"What is {i} + {i * 3}?" for i in range(8)]


def problems_table(count: int = 8) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {
            "question": PROBLEMS[:count],
            "answer": [str(4 * i) for i in range(count)],
            "level": [f"L{i % 3}" for i in range(count)],
        }
    )


FAST = {"retry_base_delay": 0.05, "retry_max_delay": 0.5, "progress": False}


def keys_of(dataset: datasets.Dataset) -> list[tuple[int, int]]:
    meta = [loads_metadata(m) for m in dataset["metadata"]]
    return [(m["problem_index"], m["sample_index"]) for m in meta]


# -- prompts, keys, shards -------------------------------------------------------------------


def test_prompt_templates_render_and_identify():
    open_r1 = get_template("open-r1")
    messages = open_r1.render("Solve x.")
    assert messages == [{"role": "user", "content": f"Solve x.\n{OPEN_R1_INSTRUCTION}"}]
    assert OPEN_R1_INSTRUCTION == (
        "Please reason step by step, and put your final answer within \\boxed{}."
    )
    sky = get_template("sky-t1").render("Solve x.")
    assert sky[0] == {"role": "system", "content": SKY_T1_SYSTEM_PROMPT}
    assert sky[1]["content"].endswith("Solve x.")
    custom = get_template("Topic {{ level }}: {{ problem }}")
    assert custom.render("Q", {"level": "L2"})[0]["content"] == "Topic L2: Q"
    assert custom.id != get_template("Topic {{ level }} - {{ problem }}").id
    assert get_template("open-r1", system="Be brief.").id != open_r1.id
    with pytest.raises(ValueError, match=r"'level' is undefined.*available fields: problem"):
        custom.render("Q")
    with pytest.raises(ValueError, match="unknown prompt template"):
        get_template("nope")


@pytest.mark.parametrize(
    "user, system",
    [
        *[(t.user, t.system) for t in TEMPLATES.values()],
        ("{{problem}} and again {{  problem }}", None),
        ("Q: {{ problem }}", "Think in {braces} about {{ problem }}."),
        ("{{ problem }}\n", None),  # Jinja strips the trailing newline: not the plain path
        ("{{ problem | upper }}", None),
        ("{%- if problem %}{{ problem }}{% endif %}", None),
        ("{{- problem }} done", None),
        ("{# note #}{{ problem }}", None),
        ("line\r\n{{ problem }}", None),
    ],
)
def test_plain_templates_render_exactly_as_jinja_does(user, system):
    """The join fast path for problem-only templates gives Jinja's own output, and is taken only
    where it can (every built-in template takes it)."""
    import jinja2

    template = PromptTemplate("t", user, system)
    problem = "Find {{ x }} if x + 1 = 2.\nUse {% raw %} as text.  "
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    expected = [{"role": "user", "content": environment.from_string(user).render(problem=problem)}]
    if system:
        expected.insert(0, {"role": "system", "content": environment.from_string(system).render(
            problem=problem)})  # fmt: skip
    assert template.render(problem) == expected
    plain = "|" not in user and "{%" not in user and "{#" not in user and "{{-" not in user
    plain = plain and not user.endswith("\n") and "\r" not in user
    assert (template._plain is not None) == plain


def test_request_keys_are_deterministic_and_cover_the_identity():
    params = SamplingParams()
    key = request_key("p1", 0, "m", "open-r1@x", params)
    assert key == request_key("p1", 0, "m", "open-r1@x", SamplingParams())
    others = {
        request_key("p2", 0, "m", "open-r1@x", params),
        request_key("p1", 1, "m", "open-r1@x", params),
        request_key("p1", 0, "m2", "open-r1@x", params),
        request_key("p1", 0, "m", "open-r1@y", params),
        request_key("p1", 0, "m", "open-r1@x", SamplingParams(temperature=0.7)),
        request_key("p1", 0, "m", "open-r1@x", SamplingParams(max_new_tokens=10)),
    }
    assert key not in others and len(others) == 6


def test_shards_partition_the_problems():
    parts = [list(shard_range(10, (i, 3))) for i in range(3)]
    assert sorted(i for part in parts for i in part) == list(range(10))
    assert parts == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1-4"):
        with pytest.raises(ValueError):
            parse_shard(bad)


def test_torn_last_line_is_dropped_and_repaired(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_bytes(b'{"key": "a"}\n{"key": "b"}\n{"key": "c", "ro')
    rows, skipped = read_jsonl_tolerant(path, repair=True)
    assert [r["key"] for r in rows] == ["a", "b"] and skipped == 1
    assert path.read_bytes().endswith(b'"b"}\n')


def test_rate_limiter_and_backoff():
    async def take(limiter, count):
        started = time.monotonic()
        for _ in range(count):
            await limiter.acquire()
        return time.monotonic() - started

    # 1200/min = 20/s with a 1 s burst of 20: 30 acquisitions need >= 0.5 s
    elapsed = asyncio.run(take(RateLimiter(1200), 30))
    assert 0.45 <= elapsed < 2.0
    rng = random.Random(0)
    delays = [backoff_delay(a, None, 1.0, 60.0, rng) for a in range(8)]
    assert all(0 <= d <= min(60, 2**a) for a, d in enumerate(delays))
    assert backoff_delay(0, 5.0, 1.0, 60.0, rng) >= 5.0  # Retry-After is a floor


# -- end to end ------------------------------------------------------------------------------


def test_generate_writes_schema_records_with_metadata(tmp_path):
    out = tmp_path / "traces.parquet"
    with OpenAIServer(model="r1", latency=0.01) as server:
        result = generate(
            problems_table(4),
            "openai",
            model="r1",
            base_url=server.url + "/v1",
            n=3,
            output=out,
            gold_field="answer",
            max_new_tokens=400,
            return_summary=True,
            price_per_mtok_in=1.0,
            price_per_mtok_out=2.0,
            **FAST,
        )
    dataset = result.dataset
    validate_dataset(dataset)
    assert len(dataset) == 12 and out.exists()
    assert keys_of(dataset) == [(p, s) for p in range(4) for s in range(3)]
    row = dataset[4]
    assert row["problem"] == PROBLEMS[1] and row["gold_answer"] == "4"
    assert row["reasoning"].startswith("Let me work through") and row["reasoning_complete"]
    assert row["answer"].startswith("The answer is") and row["final_answer"].isdigit()
    assert row["source"] == "generate:r1"
    assert row["messages"][0]["content"].endswith(OPEN_R1_INSTRUCTION) is False  # the bare problem
    assert row["messages"][-1]["content"].startswith("<think>\nLet me work")
    meta = loads_metadata(row["metadata"])
    assert meta["teacher"] == {"backend": "openai", "model": "r1"}
    assert meta["params"] == {
        "temperature": 0.6, "top_p": 0.95, "max_new_tokens": 400, "seed": None
    }  # fmt: skip
    assert meta["finish_reason"] == "stop" and meta["sample_index"] == 1
    assert meta["usage"]["prompt_tokens"] > 0 and meta["usage"]["completion_tokens"] > 0
    assert meta["latency_s"] >= 0.01 and meta["template"].startswith("open-r1@")
    # native n: one request per problem carried all three samples
    assert server.stats["completed"] == 4 and all(b["n"] == 3 for b in server.requests)
    sent = [body["messages"][0]["content"] for body in server.requests]  # arrival order varies
    assert f"{PROBLEMS[0]}\n{OPEN_R1_INSTRUCTION}" in sent
    summary = result.summary
    assert summary.completed == 12 and summary.failed == 0 and summary.requests == 4
    expected_cost = (summary.prompt_tokens * 1.0 + summary.completion_tokens * 2.0) / 1e6
    assert summary.estimated_cost == pytest.approx(expected_cost) and expected_cost > 0
    manifest = json.loads((tmp_path / "traces.parquet.state" / "manifest.json").read_text())
    assert manifest["identity"]["model"] == "r1" and manifest["runs"][0]["completed"] == 12


def test_server_that_ignores_n_falls_back_to_one_request_per_sample(tmp_path):
    with OpenAIServer(model="m", native_n=False) as server:
        dataset = generate(
            problems_table(3), "openai", model="m", base_url=server.url + "/v1", n=4,
            state_dir=tmp_path / "state", concurrency=1, **FAST,
        )  # fmt: skip
    assert keys_of(dataset) == [(p, s) for p in range(3) for s in range(4)]
    # first request asked n=4 and got 1 choice; every later request is n=1
    assert [b.get("n", 1) for b in server.requests[:2]] == [4, 1]
    assert server.stats["completed"] == 1 + 3 + 2 * 4


def test_fault_injection_run_completes_every_key_exactly_once(tmp_path):
    faults = FaultPlan(
        rate_429=0.2, rate_500=0.15, rate_hang=0.1, rate_reset=0.15,
        retry_after=0.3, hang_s=5.0, faults_per_request=2,
    )  # fmt: skip
    table = datasets.Dataset.from_dict({"problem": [f"Problem {i}?" for i in range(20)]})
    with OpenAIServer(model="m", latency=0.02, faults=faults, native_n=False) as server:
        result = generate(
            table, "openai", model="m", base_url=server.url + "/v1", n=2,
            state_dir=tmp_path / "state", concurrency=8, request_timeout=0.5,
            return_summary=True, **FAST,
        )  # fmt: skip
        stats = dict(server.stats)
    summary = result.summary
    assert summary.failed == 0 and summary.completed == 40
    assert keys_of(result.dataset) == [(p, s) for p in range(20) for s in range(2)]
    for kind in ("429", "500", "hang", "reset"):
        assert stats.get(kind, 0) >= 1, (kind, stats)
    # resets on a reused keep-alive connection are re-sent by the connection pool itself (the
    # server closed it before answering), so only the other faults are engine retries for sure
    injected = sum(stats.get(k, 0) for k in ("429", "500", "hang"))
    assert injected <= summary.retries <= injected + stats["reset"]
    assert summary.errors_by_kind.get("timeout", 0) == stats["hang"]
    lines, _ = read_jsonl_tolerant(tmp_path / "state" / "results.jsonl")
    assert len(lines) == 40 and len({line["key"] for line in lines}) == 40


def test_failed_requests_are_recorded_then_retried_on_the_next_run(tmp_path):
    state = tmp_path / "state"
    faults = FaultPlan(rate_500=0.5, faults_per_request=1, seed=3)
    with OpenAIServer(model="m", faults=faults) as server:
        first = generate(
            problems_table(8), "openai", model="m", base_url=server.url + "/v1", n=1,
            state_dir=state, max_retries=0, return_summary=True, **FAST,
        )  # fmt: skip
        failed = first.summary.failed
        assert failed == server.stats["500"] >= 1 and len(first.dataset) == 8 - failed
        errors = [json.loads(line) for line in (state / "errors.jsonl").read_text().splitlines()]
        assert len(errors) == failed and all("HTTP 500" in e["error"] for e in errors)
        before = server.stats["completed"]
        second = generate(
            problems_table(8), "openai", model="m", base_url=server.url + "/v1", n=1,
            state_dir=state, max_retries=0, return_summary=True, **FAST,
        )  # fmt: skip
        # only the failed ones were asked again
        assert server.stats["completed"] - before == failed
    assert second.summary.already_done == 8 - failed and second.summary.failed == 0
    assert keys_of(second.dataset) == [(p, 0) for p in range(8)]


def test_resume_skips_finished_keys_and_more_samples_extend_the_run(tmp_path):
    out = tmp_path / "out.jsonl"
    with OpenAIServer(model="m") as server:
        generate(problems_table(5), "openai", model="m", base_url=server.url + "/v1", n=2,
                 output=out, **FAST)  # fmt: skip
        assert server.stats["completed"] == 5
        again = generate(problems_table(5), "openai", model="m", base_url=server.url + "/v1",
                         n=2, output=out, return_summary=True, **FAST)  # fmt: skip
        assert server.stats["completed"] == 5 and again.summary.requests == 0
        more = generate(problems_table(5), "openai", model="m", base_url=server.url + "/v1",
                        n=3, output=out, return_summary=True, **FAST)  # fmt: skip
    assert more.summary.already_done == 10 and more.summary.completed == 5
    assert keys_of(more.dataset) == [(p, s) for p in range(5) for s in range(3)]
    # a different sampling setup in the same state dir is refused, not mixed
    with pytest.raises(UsageError, match="different params"):
        generate(problems_table(5), "openai", model="m", base_url="http://127.0.0.1:9/v1",
                 n=2, output=out, temperature=1.0, **FAST)  # fmt: skip


def test_shards_merge_into_the_unsharded_result(tmp_path):
    table = problems_table(7)
    with OpenAIServer(model="m") as server:
        common = {"model": "m", "base_url": server.url + "/v1", "n": 2, **FAST}
        whole = generate(table, "openai", output=tmp_path / "whole.parquet", **common)
        outputs = []
        for index in (2, 0, 1):  # order of shard completion does not matter
            path = tmp_path / f"shard{index}.parquet"
            generate(table, "openai", output=path, shard=f"{index}/3", **common)
            outputs.append(path)
    merged = merge_shards([*outputs, outputs[0]], tmp_path / "merged.parquet")  # dup input: deduped
    assert merged["id"] == whole["id"] and len(merged) == 14
    assert keys_of(merged) == [(p, s) for p in range(7) for s in range(2)]


def test_bad_rows_are_quarantined_and_missing_fields_named(tmp_path):
    table = datasets.Dataset.from_dict({"problem": ["Fine?", "", None, "Also fine?"]})
    with OpenAIServer(model="m") as server:
        result = generate(table, "openai", model="m", base_url=server.url + "/v1", n=1,
                          state_dir=tmp_path / "s", return_summary=True, **FAST)  # fmt: skip
    assert result.summary.quarantined_rows == 2 and len(result.dataset) == 2
    errors = (tmp_path / "s" / "errors.jsonl").read_text()
    assert '"row":1' in errors and '"row":2' in errors
    with pytest.raises(UsageError, match="problem field 'query' is not a column"):
        generate(table, "openai", model="m", base_url="http://127.0.0.1:9/v1",
                 problem_field="query", state_dir=tmp_path / "t", **FAST)  # fmt: skip


def test_fatal_teacher_error_stops_the_run(tmp_path):
    with OpenAIServer(model="m") as server:
        with pytest.raises(BackendError, match="does not exist"):
            generate(problems_table(8), "openai", model="other", base_url=server.url + "/v1",
                     n=1, state_dir=tmp_path / "s", concurrency=1, check=False,
                     **FAST)  # fmt: skip
        assert server.stats["/v1/chat/completions"] == 1  # not the whole dataset
        # with the pre-flight check (the default) not even one chat request is sent
        with pytest.raises(BackendError, match="does not serve 'other'"):
            generate(problems_table(8), "openai", model="other", base_url=server.url + "/v1",
                     n=1, state_dir=tmp_path / "s2", **FAST)  # fmt: skip
        assert server.stats["/v1/chat/completions"] == 1


def test_backend_that_is_down_fails_in_seconds_with_the_cause(tmp_path):
    """Issue 14, item 7: no minutes of retries and an empty file for a server that is down."""
    with OpenAIServer(model="m") as server:
        url = server.url + "/v1"
    out = tmp_path / "out.parquet"
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["generate", str(_problems_file(tmp_path)), "--model", "m", "--base-url", url,
              "-o", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 1 and time.monotonic() - started < 20
    assert "not usable" in result.output and "hint:" in result.output
    assert not out.exists()


def test_every_row_skipped_is_an_error_not_an_empty_success(tmp_path):
    """Issue 15, item 7: generate used to exit 0 after skipping every row."""
    table = datasets.Dataset.from_dict({"problem": ["", None]})
    with OpenAIServer(model="m") as server:
        with pytest.raises(EmptyOutputError, match="no trace was generated"):
            generate(table, "openai", model="m", base_url=server.url + "/v1", n=1,
                     state_dir=tmp_path / "s", **FAST)  # fmt: skip
        empty = generate(table, "openai", model="m", base_url=server.url + "/v1", n=1,
                         state_dir=tmp_path / "s", allow_empty=True, **FAST)  # fmt: skip
    assert len(empty) == 0


def test_gold_column_is_detected_like_the_problem_column(tmp_path):
    """Issue 14, item 6: an `answer` column is the gold answer without --gold-field."""
    with OpenAIServer(model="m") as server:
        dataset = generate(problems_table(2), "openai", model="m", base_url=server.url + "/v1",
                           n=1, state_dir=tmp_path / "s", **FAST)  # fmt: skip
    assert dataset["gold_answer"] == ["0", "4"]


def test_damaged_state_files_are_named_in_the_error(tmp_path):
    """Issue 15, item 5: a state line without `key`, and a truncated manifest."""
    state = tmp_path / "s"
    with OpenAIServer(model="m") as server:
        common = dict(model="m", base_url=server.url + "/v1", n=1, state_dir=state, **FAST)
        generate(problems_table(2), "openai", **common)
        with open(state / "results.jsonl", "ab") as handle:
            handle.write(b'{"problem_index": 0}\n')
        with pytest.raises(DataError, match=r"results.jsonl, line 3: a state line without 'key'"):
            generate(problems_table(2), "openai", **common)
        (state / "results.jsonl").write_bytes(b"")
        (state / "manifest.json").write_text('{"identity": {"model"')
        with pytest.raises(DataError, match=r"manifest.json: not valid JSON"):
            generate(problems_table(2), "openai", **common)


def test_content_parts_and_malformed_bodies_do_not_crash_a_run(tmp_path):
    """Issue 15, item 5: a list `content` aborted every re-run; malformed JSON is retried."""
    with OpenAIServer(model="m", content_parts=True) as server:
        dataset = generate(problems_table(2), "openai", model="m", base_url=server.url + "/v1",
                           n=1, state_dir=tmp_path / "a", **FAST)  # fmt: skip
    assert all(answer.startswith("The answer is") for answer in dataset["answer"])
    faults = FaultPlan(rate_malformed=0.5, faults_per_request=1)
    with OpenAIServer(model="m", faults=faults) as server:
        result = generate(problems_table(6), "openai", model="m", base_url=server.url + "/v1",
                          n=1, state_dir=tmp_path / "b", return_summary=True, **FAST)  # fmt: skip
        assert server.stats["malformed"] >= 1
    assert result.summary.failed == 0 and len(result.dataset) == 6


def test_secrets_echoed_by_a_failing_server_are_not_stored(tmp_path, monkeypatch):
    """Issue 15, item 2: errors.jsonl and the CLI output never hold the key."""
    secret = "sk-proj-ABCDEFGH12345678echoed"
    monkeypatch.setenv("TEACHER_KEY", secret)
    faults = FaultPlan(rate_500=1.0, faults_per_request=5)
    with OpenAIServer(model="m", faults=faults, echo_headers=True) as server:
        result = CliRunner().invoke(
            app, ["generate", str(_problems_file(tmp_path)), "--model", "m", "--base-url",
                  server.url + "/v1", "--api-key-env", "TEACHER_KEY", "-o",
                  str(tmp_path / "o.parquet"), "--max-retries", "0", "--no-progress"],
        )  # fmt: skip
    errors = (tmp_path / "o.parquet.state" / "errors.jsonl").read_text()
    assert "Request headers" in errors and "***" in errors
    assert secret not in errors and secret not in result.output


def test_merging_part_of_the_shards_is_refused(tmp_path):
    """Issue 14, item 11: `--merge` of 1 of 8 shards silently made a partial dataset."""
    with OpenAIServer(model="m") as server:
        out = tmp_path / "part0.parquet"
        generate(problems_table(4), "openai", model="m", base_url=server.url + "/v1", n=1,
                 output=out, shard="0/2", **FAST)  # fmt: skip
    with pytest.raises(UsageError, match="merging 1 of 2 shards: shard\\(s\\) 1/2 are missing"):
        merge_shards([out])
    assert len(merge_shards([out], allow_partial=True)) == 2


def _problems_file(tmp_path):
    source = tmp_path / "problems.jsonl"
    problems_table(3).to_json(source)
    return source


def test_ollama_backend_end_to_end(tmp_path):
    from tests.helpers.servers import OllamaServer

    with OllamaServer(models={"qwen3:0.6b": {"thinking": True}}) as server:
        dataset = generate(problems_table(3), "ollama", model="qwen3:0.6b", base_url=server.url,
                           n=2, stream=True, state_dir=tmp_path / "s", **FAST)  # fmt: skip
    assert keys_of(dataset) == [(p, s) for p in range(3) for s in range(2)]
    assert all(r.startswith("Let me work") for r in dataset["reasoning"])
    assert loads_metadata(dataset[0]["metadata"])["thinking_style"] == "field"


def test_cli_generate_and_merge(tmp_path):
    source = tmp_path / "problems.jsonl"
    problems_table(4).to_json(source)
    runner = CliRunner()
    with OpenAIServer(model="m") as server:
        shards = []
        for index in range(2):
            out = tmp_path / f"part{index}.parquet"
            result = runner.invoke(
                app,
                ["generate", str(source), "--backend", "openai", "--base-url",
                 server.url + "/v1", "--model", "m", "-n", "2", "-o", str(out),
                 "--shard", f"{index}/2", "--no-progress", "--template", "sky-t1",
                 "--price-per-mtok-out", "2.19"],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            assert "estimated cost $" in result.output
            shards.append(str(out))
        assert server.requests[0]["messages"][0]["role"] == "system"
        merged_path = tmp_path / "merged.parquet"
        merged = runner.invoke(app, ["generate", *shards, "--merge", "-o", str(merged_path)])
        assert merged.exit_code == 0, merged.output
        missing = runner.invoke(app, ["generate", str(source), "-o", str(tmp_path / "x.parquet")])
        assert missing.exit_code == 2 and "--model is required" in missing.output
    table = datasets.load_dataset("parquet", data_files=str(merged_path), split="train")
    assert Counter(keys_of(table)) == Counter((p, s) for p in range(4) for s in range(2))


def test_config_validation():
    with pytest.raises(UsageError, match="n must be >= 1"):
        GenerateConfig(n=0)
    with pytest.raises(ValueError, match="top_p"):
        GenerateConfig(top_p=0).params  # noqa: B018
    assert isinstance(get_template(PromptTemplate("x", "{{ problem }}")), PromptTemplate)


def test_requests_per_minute_limit_paces_the_run(tmp_path):
    # 600/min = 10/s with a 1 s burst of 10: 16 requests cannot finish in under 0.5 s
    with OpenAIServer(model="m") as server:
        started = time.monotonic()
        result = generate(
            problems_table(8), "openai", model="m", base_url=server.url + "/v1", n=2,
            state_dir=tmp_path / "s", requests_per_minute=600, tokens_per_minute=10**6,
            return_summary=True, model_options={"native_n": False}, **FAST,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert result.summary.requests == 16 and len(result.dataset) == 16
    assert elapsed >= 0.5


def test_streaming_run_survives_resets_and_hangs(tmp_path):
    faults = FaultPlan(rate_hang=0.25, rate_reset=0.25, hang_s=5.0, seed=11)
    with OpenAIServer(model="m", faults=faults, stream_chunk_chars=16) as server:
        result = generate(
            problems_table(6), "openai", model="m", base_url=server.url + "/v1", n=2,
            stream=True, state_dir=tmp_path / "s", request_timeout=0.5, concurrency=4,
            return_summary=True, **FAST,
        )  # fmt: skip
        stats = dict(server.stats)
    assert result.summary.failed == 0 and stats.get("hang", 0) + stats.get("reset", 0) >= 1
    assert keys_of(result.dataset) == [(p, s) for p in range(6) for s in range(2)]
    assert all(r.startswith("Let me work") for r in result.dataset["reasoning"])


def test_transformers_backend_end_to_end(tiny_model_dir, tmp_path):
    dataset = generate(
        problems_table(3), "transformers", model=str(tiny_model_dir), n=2, max_new_tokens=4,
        temperature=0.0, state_dir=tmp_path / "s", model_options={"batch_size": 6}, **FAST,
    )  # fmt: skip
    validate_dataset(dataset)
    assert keys_of(dataset) == [(p, s) for p in range(3) for s in range(2)]
    meta = loads_metadata(dataset[0]["metadata"])
    assert meta["teacher"]["backend"] == "transformers"
    assert meta["teacher"]["model"] == str(tiny_model_dir)
    assert meta["teacher"]["revision"].startswith("sha256:")  # which weights, not where
    assert meta["usage"]["completion_tokens"] <= 4


def test_a_list_gold_is_not_stored_as_its_string(tmp_path):
    """Issue 15, item 7: `["4"]` used to become the gold text "['4']"."""
    table = datasets.Dataset.from_dict({"problem": ["What is 2 + 2?"], "answer": [["4"]]})
    with OpenAIServer(model="m") as server:
        dataset = generate(table, "openai", model="m", base_url=server.url + "/v1", n=1,
                           state_dir=tmp_path / "s", **FAST)  # fmt: skip
    assert dataset["gold_answer"] == [None]
