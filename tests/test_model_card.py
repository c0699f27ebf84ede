"""Model cards: rendered from results.json, validated, model-index parses back to the same numbers."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results
from typer.testing import CliRunner

from tests.helpers.evaluate import ScriptedBackend, gold_script
from toolkit.cards.model_card import build_model_card
from toolkit.cards.model_index import (
    expected_model_index_values,
    model_index_values,
    validate_model_card,
)
from toolkit.cli import app
from toolkit.evaluation import evaluate
from toolkit.evaluation.tasks import get_benchmark
from toolkit.publishing import write_model_card

TRAINING_SUMMARY = {
    "schema_version": "1",
    "task": "sft",
    "strategy": None,
    "base_model": "HuggingFaceTB/SmolLM2-135M-Instruct",
    "base_model_path": "/models/SmolLM2-135M-Instruct",
    "teacher_model": None,
    "dataset": {
        "source": "my-org/r1-traces",
        "version": "1.2.0",
        "revision": "0123456789abcdef0123456789abcdef01234567",
        "split": "train",
        "rows_loaded": 1000,
        "rows_used": 990,
        "rows_dropped": 10,
        "drop_reasons": {"too_long": 10},
    },
    "peft": {"method": "lora", "r": 16, "alpha": 32, "dropout": 0.05, "merged": True},
    "params": {"learning_rate": 1e-4, "effective_batch_size": 16, "max_length": 4096},
    "steps": 120,
    "epochs_completed": 2.0,
    "tokens_seen": 1_234_567,
    "target_tokens": 400_000,
    "loss_curve": [
        {"step": 10, "loss": 1.9},
        {"step": 60, "loss": 1.2},
        {"step": 120, "loss": 0.8},
    ],
    "final_loss": 0.8,
    "runtime_seconds": 600.0,
    "hardware": {"device": "cpu", "num_devices": 1},
    "versions": {"toolkit": "0.1.0", "torch": "2.13.0"},
}


def _run(data_files, correct, output_dir):
    golds = {}
    for task, path in data_files.items():
        for row in get_benchmark(task).load(path, limit=2):
            golds[row["problem"]] = row["gold_answer"]
    return evaluate(
        "scripted",
        list(data_files),
        n=4,
        limit=2,
        backend=ScriptedBackend(gold_script(golds, correct)),
        data_files=data_files,
        output_dir=output_dir,
        show_progress=False,
    )


@pytest.fixture(scope="module")
def results_pair(fixtures_dir, benchmark_data, tmp_path_factory):
    """A model and a base model evaluated once per module (scripted completions, known scores)."""
    data_files = {
        "gsm8k": benchmark_data / "gsm8k_test.jsonl",
        "math500": benchmark_data / "math500_test.jsonl",
        "aime25": fixtures_dir / "evaluate" / "aime25_test.jsonl",
        "gpqa_diamond": fixtures_dir / "evaluate" / "gpqa_diamond.csv",
    }
    root = tmp_path_factory.mktemp("card-evals")
    return _run(data_files, {0, 1, 3}, root / "model-eval"), _run(data_files, {2}, root / "base")


@pytest.fixture
def evaluated(results_pair, tiny_model_dir, tmp_path):
    model, base = results_pair
    model_dir = tmp_path / "student"
    shutil.copytree(tiny_model_dir, model_dir)
    (model_dir / "training_summary.json").write_text(json.dumps(TRAINING_SUMMARY))
    (model_dir / "recipe.yaml").write_text(
        "task: sft\nmodel: HuggingFaceTB/SmolLM2-135M-Instruct\n"
    )
    return model_dir, model, base


def test_card_renders_validates_and_round_trips(evaluated):
    model_dir, model, base = evaluated
    written = write_model_card(
        model_dir, model.results_path, base_results=base.results_path, repo_id="me/student-r1"
    )
    assert written.readme == model_dir / "README.md"
    assert written.plot == model_dir / "eval_plot.png"
    assert written.plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    text = written.readme.read_text()
    card = ModelCard(text)
    data = card.data.to_dict()
    assert data["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert data["base_model_relation"] == "finetune"
    assert data["datasets"] == ["my-org/r1-traces"]
    assert data["license"] == "apache-2.0"
    assert data["library_name"] == "transformers"
    assert data["pipeline_tag"] == "text-generation"
    assert "reasoning" in data["tags"]

    # model-index parses back (with huggingface_hub's parser) to exactly the results' numbers.
    name, eval_results = model_index_to_eval_results(data["model-index"])
    assert name == "student-r1"
    parsed = {(r.dataset_type, r.metric_type): r.metric_value for r in eval_results}
    for entry in model.results["tasks"].values():
        for metric, score in entry["metrics"].items():
            assert parsed[(entry["hub_id"], metric)] == round(100 * score["value"], 2)
    assert parsed[("openai/gsm8k", "pass@1")] == 75.0
    assert parsed[("Idavidrein/gpqa", "maj@4")] == 100.0
    assert model_index_values(text) == expected_model_index_values(model.results)
    gsm8k = next(r for r in eval_results if r.dataset_type == "openai/gsm8k")
    assert (gsm8k.dataset_config, gsm8k.dataset_split, gsm8k.task_type) == (
        "main",
        "test",
        "text-generation",
    )
    assert gsm8k.metric_args["max_new_tokens"] == 32768 and gsm8k.metric_args["n"] == 4

    body = card.text
    assert "| GSM8K | pass@1 (n=4, 2 problems) | **75.0 ± 0.0** | 25.0 ± 0.0 | +50.0 |" in body
    assert "max_new_tokens = 32768" in body and "temperature 0.6" in body
    assert "my-org/r1-traces v1.2.0 @ 0123456789abcdef" in body
    assert "| optimizer steps | 120 |" in body and "| tokens seen | 1234567 |" in body
    assert "```yaml\ntask: sft" in body
    assert 'model_id = "me/student-r1"' in body
    assert 'PARAMETER stop "<|im_end|>"' in body and "FROM ." in body
    assert "toolkit space --model me/student-r1" in body
    assert "![Accuracy per task and thinking length](eval_plot.png)" in body
    validate_model_card(text, model.results)


def test_validation_catches_numbers_that_differ_from_results(evaluated):
    model_dir, model, _ = evaluated
    card = build_model_card(model_dir, model.results, repo_id="me/student-r1")
    text = str(card)
    validate_model_card(text, model.results)

    header, _, body = text.partition("\n---\n")
    metadata = yaml.safe_load(header.removeprefix("---\n"))
    metadata["model-index"][0]["results"][0]["metrics"][0]["value"] = 12.5
    tampered = "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n" + body
    with pytest.raises(ValueError, match=r"results say 75\.0"):
        validate_model_card(tampered, model.results)

    del metadata["model-index"][0]["results"][0]["metrics"][0]["type"]
    broken = "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n" + body
    with pytest.raises(ValueError, match=r"invalid model card metadata|model-index"):
        validate_model_card(broken, model.results)

    metadata = yaml.safe_load(header.removeprefix("---\n"))
    del metadata["license"]
    unlicensed = "---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n" + body
    with pytest.raises(ValueError, match="'license' is missing"):
        validate_model_card(unlicensed)


def test_card_without_training_summary(evaluated, tiny_model_dir, tmp_path):
    _, model, _ = evaluated
    plain = tmp_path / "plain"
    shutil.copytree(tiny_model_dir, plain)
    written = write_model_card(
        plain, model.results_path, output_dir=tmp_path / "card", plot=False, license="apache-2.0"
    )
    assert written.plot is None and written.readme.parent == tmp_path / "card"
    text = written.readme.read_text()
    assert "No `training_summary.json` was found" in text
    assert "base_model" not in ModelCard(text).data.to_dict()
    assert "eval_plot.png" not in text


def test_card_cli(evaluated, tmp_path):
    model_dir, model, base = evaluated
    result = CliRunner().invoke(
        app,
        [
            "card",
            str(model_dir),
            "--results",
            str(model.results_path),
            "--base-results",
            str(base.results_path),
            "--repo-id",
            "me/student-r1",
            "--license",
            "mit",
        ],
    )
    assert result.exit_code == 0, result.output
    data = ModelCard((model_dir / "README.md").read_text()).data.to_dict()
    assert data["license"] == "mit"
    as_json = CliRunner().invoke(
        app, ["card", str(model_dir), "--results", str(model.results_path), "--json"]
    )
    assert json.loads(as_json.stdout)["license"] == "apache-2.0"  # SmolLM2's, inferred
    result = CliRunner().invoke(
        app, ["card", str(model_dir), "--results", str(tmp_path / "missing.json")]
    )
    assert result.exit_code == 1 and "no such results file" in " ".join(result.output.split())


def test_template_override(evaluated, tmp_path, monkeypatch):
    model_dir, model, _ = evaluated
    template = tmp_path / "mine.md.j2"
    template.write_text("---\n{{ card_data }}\n---\n\n# {{ title }}\n\n{{ eval_table }}\n")
    monkeypatch.setenv("TOOLKIT_MODEL_CARD_TEMPLATE", str(template))
    card = build_model_card(model_dir, model.results, repo_id="me/custom")
    assert card.text.strip().startswith("# custom\n\n| task | metric | this model |")
    validate_model_card(str(card), model.results)
    monkeypatch.setenv("TOOLKIT_MODEL_CARD_TEMPLATE", str(tmp_path / "missing.j2"))
    with pytest.raises(FileNotFoundError, match="TOOLKIT_MODEL_CARD_TEMPLATE"):
        build_model_card(model_dir, model.results)


# --- issue 14 item 12: cards worth publishing -----------------------------------------------


def _without_thinking(results: dict) -> dict:
    """The same results as a model that never opened <think> would have them."""
    import copy

    changed = copy.deepcopy(results)
    for entry in changed["tasks"].values():
        entry["reasoning"].update(
            mean_thinking_tokens=0.0, median_thinking_tokens=0.0, max_thinking_tokens=0,
            share_with_reasoning=0.0,
        )  # fmt: skip
    return changed


def test_card_claims_follow_the_numbers(evaluated):
    model_dir, model, _ = evaluated
    thinking = build_model_card(model_dir, model.results, repo_id="me/r1").text
    assert "It reasons inside `<think>…</think>`" in thinking
    silent = build_model_card(model_dir, _without_thinking(model.results), repo_id="me/r1").text
    assert "thinks inside" not in silent and "reasons inside" not in silent
    assert "wrote **no** `<think>…</think>` reasoning (0 thinking tokens)" in silent


def test_card_has_sample_prompt_parameters_citation_limitations(evaluated):
    model_dir, model, base = evaluated
    written = write_model_card(model_dir, model.results_path, base_results=base.results_path,
                               repo_id="me/student-r1")  # fmt: skip
    text = written.readme.read_text()
    # a real evaluated completion, from details.parquet, with its verdict
    assert "### A sample from the evaluation" in text and "graded **correct**" in text
    assert "Let me think about it, sample 0." in text
    # the exact prompt text and the generation parameters
    assert "Please reason step by step, and put your final answer within \\boxed{}." in text
    assert "temperature 0.6 and top-p 0.95" in text and "max_new_tokens = 32768" in text
    # usage recommendations, limitations, citation, licence
    assert "## Usage recommendations" in text and "Send no system prompt" in text
    assert "## Limitations" in text and "evaluated on 2 problems only" in text
    assert "## Citation" in text and "@misc{me_student_r1," in text
    assert "2501.12948" in text  # DeepSeek-R1
    assert "## License" in text
    # base-vs-student table (the base was evaluated)
    assert "| task | metric | this model | scripted-model | Δ |" in text


def test_card_usage_says_hf_download(evaluated):
    model_dir, model, _ = evaluated
    text = build_model_card(model_dir, model.results, repo_id="me/student-r1").text
    assert "hf download me/student-r1 --local-dir student-r1" in text
    assert "huggingface-cli" not in text
    local = build_model_card(model_dir, model.results, repo_id="me/r1", local_store=True).text
    assert 'resolve_model("me/r1")' in local and "hf download" not in local


def test_card_publishes_no_local_paths(evaluated, tmp_path):
    model_dir, model, _ = evaluated
    summary = dict(TRAINING_SUMMARY)
    summary["dataset"] = {**summary["dataset"], "source": str(tmp_path / "private" / "t.jsonl")}
    summary["base_model"] = "HuggingFaceTB/SmolLM2-135M-Instruct"
    (model_dir / "training_summary.json").write_text(json.dumps(summary))
    (model_dir / "recipe.yaml").write_text(
        f"task: sft\noutput_dir: {tmp_path}/runs/x\ndata:\n  path: {tmp_path}/private/t.jsonl\n"
    )
    results = json.loads(model.results_path.read_text())
    results["model"]["path"] = str(tmp_path / "models" / "student")
    for entry in results["tasks"].values():
        entry["dataset"]["local_file"] = str(tmp_path / "bench" / "x.jsonl")
    from toolkit.publishing import publish

    published = publish(model_dir, "me/no-paths", results=results, license="apache-2.0")
    card = published.readme.read_text()
    assert str(tmp_path) not in card and "/tmp/" not in card
    assert "`t.jsonl`" in card  # the local training file is named by its file name only
    assert str(tmp_path) not in (model_dir / "eval_results.json").read_text()


def test_license_required_unless_the_base_model_is_known(evaluated, tmp_path):
    from toolkit.errors import UsageError

    model_dir, model, _ = evaluated
    card = build_model_card(model_dir, model.results, repo_id="me/r1")
    assert card.data.license == "apache-2.0"  # SmolLM2's, inferred
    with pytest.raises(UsageError, match="licence of the base model someone/unknown-base"):
        build_model_card(model_dir, model.results, base_model="someone/unknown-base")
    assert (
        build_model_card(
            model_dir, model.results, base_model="someone/unknown-base", license="mit"
        ).data.license
        == "mit"
    )
    result = CliRunner().invoke(
        app, ["card", str(model_dir), "--results", str(model.results_path), "--base-model",
              "someone/unknown-base", "-o", str(tmp_path / "card")],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "pass --license" in " ".join(result.output.split()) and "Traceback" not in result.output
