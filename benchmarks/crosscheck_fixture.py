"""Build the cross-check completions from real benchmark rows (``lighteval_crosscheck.py
--build-fixture``).

Every row is an R1-style completion written around a real problem's own data: the reasoning is
the row's published solution (MATH-500 and AIME 2024 ``solution``, GSM8K ``answer`` without its
``#### N`` line), the answer is the row's gold or, for a wrong completion, another row's gold. The
styles are those models produce: ``\\boxed{}``, answer lines (simple-evals, Minerva, lighteval's
own ``ANSWER:``), reasoning that never closes, a prefilled ``<think>`` (only ``</think>`` in the
output), option letters (four options made from real GSM8K golds), GSM8K numbers. Seeded: the
same data gives the same file. Each row keeps the gold both ways: ``gold`` as the toolkit's
benchmark registry reads it, and ``lighteval_choices``/``lighteval_gold_index`` as lighteval
0.13's task files build the ``Doc``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

LETTERS = "ABCD"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def build(data: Path, out: Path, seed: int = 11) -> int:
    rng = random.Random(seed)
    math500 = _read(data / "math500_test.jsonl")
    aime = _read(data / "aime24_test.jsonl")
    gsm8k = _read(data / "gsm8k_test.jsonl")
    rows: list[dict] = []

    def add(category: str, kind: str, source: str, gold: str, completion: str, choices, index=0):
        rows.append(
            {
                "id": f"{category}-{len(rows)}",
                "category": category,
                "kind": kind,
                "source": source,
                "gold": gold,
                "completion": completion,
                "lighteval_choices": choices,
                "lighteval_gold_index": index,
            }
        )

    def math_row(pool: list[dict], name: str) -> tuple[dict, str, str, list[str]]:
        row = rng.choice(pool)
        other = rng.choice(pool)["answer"]
        key = row.get("unique_id") or row.get("id")
        choices = [f"ANSWER: {row['solution']}"] if name == "math500" else [str(row["answer"])]
        return row, f"{name}:{key}", other, choices

    # 1. Boxed answers after closed thinking (right 60 %, another row's gold 40 %).
    for number in range(150):
        name, pool = ("aime24", aime) if number % 5 == 0 else ("math500", math500)
        row, source, other, choices = math_row(pool, name)
        answer = row["answer"] if rng.random() < 0.6 else other
        ending = rng.choice(
            [
                "Therefore, the final answer is $\\boxed{{{a}}}$.",
                "So the answer is \\boxed{{{a}}}.",
                "**Final Answer**\n\\[\n\\boxed{{{a}}}\n\\]",
            ]
        ).format(a=answer)
        text = f"<think>\n{row['solution']}\n</think>\n\nLet me summarize.\n\n{ending}"
        add("boxed", "math", source, str(row["answer"]), text, choices)

    # 2. Answer lines, with or without $…$.
    line_styles = {
        "answer_line_bold": "**Answer:** ${a}$",
        "answer_line_caps": "ANSWER: {a}",
        "answer_line_plain": "Answer: ${a}$",
        "answer_line_final": "Final answer: ${a}$",
        "answer_line_minerva": "Final Answer: The final answer is ${a}$. I hope it is correct.",
    }
    for number in range(125):
        style = list(line_styles)[number % len(line_styles)]
        row, source, other, choices = math_row(math500, "math500")
        answer = row["answer"] if rng.random() < 0.6 else other
        text = (
            f"<think>\n{row['solution']}\n</think>\n\nThe computation above gives the result.\n\n"
            + line_styles[style].format(a=answer)
        )
        add(style, "math", source, str(row["answer"]), text, choices)

    # 3. Reasoning that never closes (cut off by the token limit), the gold boxed inside it.
    for _ in range(40):
        row, source, _other, choices = math_row(math500, "math500")
        text = f"<think>\n{row['solution']}\nWait, let me double-check this once more. The"
        add("unclosed_thinking", "math", source, str(row["answer"]), text, choices)

    # 4. A prefilled <think>: the output starts inside the reasoning, only </think> appears.
    for _ in range(40):
        row, source, other, choices = math_row(math500, "math500")
        answer = row["answer"] if rng.random() < 0.6 else other
        text = f"{row['solution']}\n</think>\n\nThe answer is $\\boxed{{{answer}}}$."
        add("prefilled_thinking", "math", source, str(row["answer"]), text, choices)

    # 5. Option letters: four options from real GSM8K golds, the model's letter in many forms.
    letter_styles = {
        "letter_answer_colon": "Answer: {l}",
        "letter_answer_quoted": 'Answer: "{l}"',
        "letter_answer_is_paren": "The answer is ({l}).",
        "letter_boxed": "\\boxed{{{l}}}",
        "letter_bold": "**Answer: {l}**",
        "letter_for_sure": "The answer is for sure {l}, the other options do not fit.",
    }
    for number in range(90):
        style = list(letter_styles)[number % len(letter_styles)]
        row = rng.choice(gsm8k)
        gold_value = row["answer"].rsplit("####", 1)[-1].strip()
        options = [gold_value] + [
            rng.choice(gsm8k)["answer"].rsplit("####", 1)[-1].strip() for _ in range(3)
        ]
        rng.shuffle(options)
        gold_index = options.index(gold_value)
        picked = gold_index if rng.random() < 0.6 else rng.randrange(4)
        reasoning = row["answer"].rsplit("####", 1)[0].strip()
        listing = "\n".join(f"{LETTERS[i]}) {option}" for i, option in enumerate(options))
        text = f"<think>\n{reasoning}\nThe options are:\n{listing}\n</think>\n\n" + letter_styles[
            style
        ].format(l=LETTERS[picked])
        source = f"gsm8k:line {gsm8k.index(row) + 1}"
        add(style, "choice", source, LETTERS[gold_index], text, list(LETTERS), gold_index)

    # 6. GSM8K numbers.
    number_styles = {
        "gsm8k_hashes": "#### {n}",
        "gsm8k_boxed": "The total is $\\boxed{{{n}}}$.",
        "gsm8k_answer_is": "The answer is {n}.",
        "gsm8k_dollars": "The answer is ${m}.",
        "gsm8k_answer_because": "The answer is {n} because each step above checks out for all 3 cases.",
        "gsm8k_thousands_space": "So she has {s} in total.",
    }
    for number in range(120):
        style = list(number_styles)[number % len(number_styles)]
        row = rng.choice(gsm8k)
        gold = row["answer"].rsplit("####", 1)[-1].strip().replace(",", "")
        value = (
            gold
            if rng.random() < 0.6
            else rng.choice(gsm8k)["answer"].rsplit("####", 1)[-1].strip()
        )
        value = value.replace(",", "")
        as_int = int(value) if value.lstrip("-").isdigit() else None
        money = f"{as_int:,}" if as_int is not None else value
        spaced = f"{as_int:,}".replace(",", " ") if as_int is not None else value
        reasoning = row["answer"].rsplit("####", 1)[0].strip()
        text = f"<think>\n{reasoning}\n</think>\n\n" + number_styles[style].format(
            n=value, m=money, s=spaced
        )
        source = f"gsm8k:line {gsm8k.index(row) + 1}"
        add(style, "gsm8k", source, gold, text, [f" {row['answer']}"])

    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    return len(rows)
