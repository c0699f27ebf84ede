"""Dataset cards: render from data + lineage, validate metadata, write the histogram PNG."""

from __future__ import annotations

import datasets
import pytest
from huggingface_hub import DatasetCard

from toolkit.cards.dataset_card import (
    build_dataset_card,
    collect_lineage,
    compute_stats,
    size_category,
    source_datasets,
    validate_dataset_card,
    write_dataset_card,
)
from toolkit.curate import complete_only, dedup
from toolkit.errors import UsageError
from toolkit.schema import TraceRecord, records_to_dataset


def _traces() -> datasets.Dataset:
    records = [
        TraceRecord(
            problem=f"Problem {i}",
            reasoning=" ".join(["step"] * (10 * (i + 1))),
            answer=f"\\boxed{{{i}}}",
            final_answer=str(i),
            gold_answer=str(i),
            source="open-r1/OpenR1-Math-220k@9a1e4b2" if i < 6 else "generate:deepseek-r1:7b",
            domain="math" if i < 8 else "science",
            reasoning_complete=i != 9,
            metadata={
                "teacher": "deepseek-r1:7b",
                "prompt_template": "{problem}\nPlease reason step by step.",
                "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 4096},
            },
        )
        for i in range(10)
    ]
    data = records_to_dataset([*records, records[0]])
    return data.add_column(
        "correct", [True] * 7 + [False, None, False, True], feature=datasets.Value("bool")
    )


def test_stats_and_lineage_from_data():
    data = _traces()
    stats = compute_stats(data)
    assert stats.rows == 11
    assert stats.graded == 10 and stats.ungradable == 1
    assert stats.correct_rate == pytest.approx(8 / 10)
    assert stats.reasoning_tokens["max"] == 100
    assert stats.reasoning_tokens["p50"] == 50
    assert dict(stats.sources) == {
        "open-r1/OpenR1-Math-220k@9a1e4b2": 7,
        "generate:deepseek-r1:7b": 4,
    }
    lineage = collect_lineage(data)
    assert lineage["teachers"] == ["deepseek-r1:7b"]
    assert lineage["prompt_templates"] == ["{problem}\nPlease reason step by step."]
    assert lineage["sampling"] == ['{"max_tokens": 4096, "temperature": 0.6, "top_p": 0.95}']
    assert source_datasets(lineage["sources"]) == ["open-r1/OpenR1-Math-220k"]
    assert [size_category(n) for n in (0, 999, 1000, 250_000)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "100K<n<1M",
    ]


def test_card_renders_validates_and_lists_every_step(tmp_path):
    data = _traces()
    data, first = complete_only(data)
    data, second = dedup(data)
    path = write_dataset_card(
        data,
        tmp_path,
        repo_id="org/r1-math",
        version="1.2.0",
        lineage=[first, second],
        license="apache-2.0",  # generated rows: the licence is the publisher's to state
    )
    text = path.read_text()
    card = DatasetCard.load(path)
    metadata = validate_dataset_card(card)
    assert metadata["license"] == "apache-2.0"
    assert metadata["size_categories"] == ["n<1K"]
    assert metadata["source_datasets"] == ["open-r1/OpenR1-Math-220k"]
    assert metadata["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"}]}
    ]
    assert "text-generation" in metadata["task_categories"]
    assert {"reasoning", "math", "science"} <= set(metadata["tags"])
    # Lineage: sources with revisions, teacher, template, sampling, each step with its removals.
    assert "`open-r1/OpenR1-Math-220k@9a1e4b2`" in text
    assert "`deepseek-r1:7b`" in text
    assert "Please reason step by step." in text
    assert '"temperature": 0.6' in text
    assert "| 1 | `complete_only` | 11 | 10 | 1 | reasoning_incomplete: 1 |" in text
    assert "| 2 | `dedup` | 10 | 9 | 1 | exact_duplicate: 1 |" in text
    assert 'toolkit.load("org/r1-math", version="1.2.0")' in text
    png = tmp_path / "plots" / "reasoning_length.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![Reasoning length histogram](plots/reasoning_length.png)" in text


def test_identical_data_renders_identical_card_and_plot(tmp_path):
    data = _traces()
    first = write_dataset_card(
        data, tmp_path / "a", repo_id="org/x", version="1.0.0", license="mit"
    )
    second = write_dataset_card(
        data, tmp_path / "b", repo_id="org/x", version="1.0.0", license="mit"
    )
    assert first.read_text() == second.read_text()
    plot = "plots/reasoning_length.png"
    assert (tmp_path / "a" / plot).read_bytes() == (tmp_path / "b" / plot).read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"license": "free-for-all"}, "license: 'free-for-all'"),
        ({"task_categories": ("reasoning",)}, "unknown category 'reasoning'"),
    ],
)
def test_invalid_metadata_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_dataset_card(_traces(), repo_id="org/x", plot_path=None, **kwargs)


def test_validate_rejects_handwritten_bad_header():
    bad = "---\nlicense: mit\nsize_categories:\n- lots\ntask_categories:\n- text-generation\n---\n"
    with pytest.raises(ValueError, match=r"size_categories.*configs: missing"):
        validate_dataset_card(bad)


def test_template_override(tmp_path, monkeypatch):
    template = tmp_path / "card.md.j2"
    template.write_text(
        "---\n{{ card_data }}\n---\n# {{ pretty_name }} has {{ stats.rows }} rows\n"
    )
    monkeypatch.setenv("TOOLKIT_DATASET_CARD_TEMPLATE", str(template))
    card = build_dataset_card(_traces(), repo_id="org/custom", plot_path=None, license="mit")
    assert "# custom has 11 rows" in str(card)
    monkeypatch.setenv("TOOLKIT_DATASET_CARD_TEMPLATE", str(tmp_path / "missing.j2"))
    with pytest.raises(FileNotFoundError, match="TOOLKIT_DATASET_CARD_TEMPLATE"):
        build_dataset_card(_traces(), repo_id="org/custom", plot_path=None)


def _generated_traces() -> datasets.Dataset:
    """Traces as `toolkit generate` writes them, made on a machine with local paths around
    (with the prompt text it should record next to the template id)."""
    from toolkit.generation.prompts import TEMPLATES

    template = TEMPLATES["open-r1"]
    records = [
        TraceRecord(
            problem=f"What is {i} + {i}?",
            reasoning=f"Adding {i} and {i} gives {2 * i}.",
            answer=f"The answer is \\boxed{{{2 * i}}}.",
            final_answer=str(2 * i),
            gold_answer=str(2 * i),
            source="generate:/home/alice/.cache/toolkit/models/SmolLM2-135M-Instruct",
            metadata={
                "teacher": {
                    "backend": "local",
                    "model": "/home/alice/.cache/toolkit/models/SmolLM2-135M-Instruct",
                },
                "model": "/home/alice/.cache/toolkit/models/SmolLM2-135M-Instruct",
                "params": {"temperature": 0.6, "top_p": 0.95, "max_new_tokens": 2048, "seed": None},
                "template": template.id,
                "prompt": template.user,
                "note": "Authorization: Bearer hf_secretTOKEN0123456789abc",
            },
        )
        for i in range(4)
    ]
    return records_to_dataset(records)


def test_card_is_publishable_no_paths_no_raw_errors_no_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_secretTOKEN0123456789abc")
    data = _generated_traces()
    data, report = complete_only(data)
    raw_note = (
        "unavailable: aime25: ConnectionError: Couldn't reach 'yentinglin/aime_2025' on the Hub "
        "(LocalEntryNotFoundError) while reading /tmp/pytest-of-bob/pytest-3/fixtures/aime25.jsonl"
    )
    steps = [report.to_dict(), {**report.to_dict(), "step": "decontaminate", "notes": [raw_note]}]
    path = write_dataset_card(data, tmp_path, repo_id="org/gen", version="1.0.0", lineage=steps,
                              license="apache-2.0")  # fmt: skip
    text = path.read_text()
    for leak in ("/home/alice", ".cache", "/tmp/", "pytest-of", "Couldn't reach", "hf_secret"):
        assert leak not in text, leak
    assert "`SmolLM2-135M-Instruct`" in text  # the teacher by name, not by path
    assert "ConnectionError" in text  # which error, without its raw message
    validate_dataset_card(DatasetCard.load(path))


def test_card_carries_sample_prompt_parameters_citation_limitations(tmp_path):
    from toolkit.generation.prompts import OPEN_R1_INSTRUCTION

    path = write_dataset_card(_generated_traces(), tmp_path, repo_id="org/gen", version="2.1.0",
                              license="mit")  # fmt: skip
    text = path.read_text()
    # The exact prompt text recorded with the traces ...
    assert OPEN_R1_INSTRUCTION in text and "{{ problem }}" in text
    # ... and the generation parameters from the traces' metadata.
    assert '"max_new_tokens": 2048' in text and '"temperature": 0.6' in text
    assert '"seed"' not in text  # unset parameters are noise
    # A sample row.
    assert "## Sample row" in text and '"problem": "What is 0 + 0?"' in text
    # Citation, limitations, recommendations.
    assert "## Citation" in text and "@misc{org_gen_v2_1_0," in text
    assert "https://huggingface.co/datasets/org/gen" in text
    limitations = text.split("## Limitations", 1)[1].split("##", 1)[0]
    assert "Not decontaminated" in limitations and "Answers were not verified" in limitations
    assert "### Recommendations" in text and "temperature 0.6, top-p 0.95" in text
    validate_dataset_card(DatasetCard.load(path))


def test_licence_is_required_when_unknown_and_inferred_when_known():
    from toolkit.cards.dataset_card import resolve_license

    generated = _generated_traces()
    with pytest.raises(ValueError, match=r"license: missing"):
        build_dataset_card(generated, repo_id="org/x", plot_path=None)
    with pytest.raises(UsageError, match="licence of the source data is unknown") as error:
        resolve_license(generated, None)
    assert "SmolLM2" in str(error.value) and "/home/alice" not in str(error.value)
    known = records_to_dataset(
        [
            TraceRecord(
                problem="p", source="open-r1/OpenR1-Math-220k@9a1e4b2", reasoning="r", answer="a"
            )
        ]
    )
    assert resolve_license(known, None) == "apache-2.0"
    card = build_dataset_card(known, repo_id="org/x", plot_path=None)
    assert validate_dataset_card(card)["license"] == "apache-2.0"
    mixed = datasets.concatenate_datasets([known, generated.cast(known.features)])
    with pytest.raises(UsageError):
        resolve_license(mixed, None)


def test_card_never_guesses_a_prompt_it_was_not_given(tmp_path):
    data = records_to_dataset(
        [
            TraceRecord(
                problem="p", reasoning="r", answer="a", metadata={"template": "x@0123abcd"}
            ),
        ]
    )
    text = write_dataset_card(data, tmp_path, repo_id="o/x", license="mit", plot=False).read_text()
    assert "template x@0123abcd (its text was not recorded with the traces)" in text
