"""Prompt templates for teacher generation.

A template is a Jinja user message plus an optional system prompt. The problem text is available
as ``{{ problem }}`` (whichever input column holds it, see ``problem_field``), and every other
column of the input row by its own name, so a template can use ``{{ options }}`` or ``{{ topic }}``.

A template is part of a generation run's identity: :attr:`PromptTemplate.id` (name + hash of its
text) enters every request key, so editing a template starts new samples instead of silently
mixing two prompts in one dataset.

Built-in templates:

``open-r1``
    The Open-R1 / DeepSeek-R1 math prompt: the problem followed by "Please reason step by step,
    and put your final answer within \\boxed{}." (no system prompt; R1 recommends none).
``sky-t1``
    The Sky-T1 / Bespoke-Stratos system prompt asking for ``<|begin_of_thought|>`` …
    ``<|begin_of_solution|>`` sections, with the "Return your final response within \\boxed{}."
    user prefix.
``plain``
    The problem alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from toolkit.errors import UsageError
from toolkit.schema import content_hash

OPEN_R1_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

SKY_T1_SYSTEM_PROMPT = (
    "Your role as an assistant involves thoroughly exploring questions through a systematic long "
    "thinking process before providing the final precise and accurate solutions. This requires "
    "engaging in a comprehensive cycle of analysis, summarizing, exploration, reassessment, "
    "reflection, backtracing, and iteration to develop well-considered thinking process. Please "
    "structure your response into two main sections: Thought and Solution. In the Thought "
    "section, detail your reasoning process using the specified format: <|begin_of_thought|> "
    "{thought with steps separated with '\\n\\n'} <|end_of_thought|> Each step should include "
    "detailed considerations such as analisying questions, summarizing relevant findings, "
    "brainstorming new ideas, verifying the accuracy of the current steps, refining any errors, "
    "and revisiting previous steps. In the Solution section, based on various attempts, "
    "explorations, and reflections from the Thought section, systematically present the final "
    "solution that you deem correct. The solution should remain a logical, accurate, concise "
    "expression style and detail necessary step needed to reach the conclusion, formatted as "
    "follows: <|begin_of_solution|> {final formatted, precise, and clear solution} "
    "<|end_of_solution|> Now, try to solve the following question through the above guidelines:"
)


@dataclass(frozen=True)
class PromptTemplate:
    """A user-message Jinja template and an optional (Jinja) system prompt."""

    name: str
    user: str
    system: str | None = None

    @cached_property
    def id(self) -> str:
        """``name@hash``: changes whenever the text of either part changes (computed once: it
        enters every request key)."""
        return f"{self.name}@{content_hash(self.system, self.user)[:10]}"

    @cached_property
    def _plain(self) -> tuple[list[str], list[str] | None] | None:
        """The templates that only insert the problem (every built-in one), as the text around
        each ``{{ problem }}``: rendered by joining, ~1 µs instead of Jinja's ~40 µs per request
        (8 % of ``toolkit generate``'s client CPU at concurrency 256, measured with cProfile on
        benchmarks/generate.py's workload). Jinja itself decides which templates qualify: the
        join must give exactly what Jinja renders for a probe problem (anything else Jinja
        renders: None here)."""
        import jinja2

        probe = "\x00problem\x00"
        user = _PROBLEM.split(self.user)
        system = _PROBLEM.split(self.system) if self.system else None
        try:
            user_template, system_template = self._compiled
            if user_template.render(problem=probe) != probe.join(user):
                return None
            if system is not None and system_template.render(problem=probe) != probe.join(system):
                return None
        except jinja2.TemplateError:  # other fields, or a syntax error: the Jinja path reports it
            return None
        return user, system

    @cached_property
    def _compiled(self) -> tuple[Any, Any]:
        import jinja2

        environment = jinja2.Environment(
            undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False
        )
        system = environment.from_string(self.system) if self.system else None
        return environment.from_string(self.user), system

    def render(self, problem: str, row: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
        """Chat messages for one problem (``row`` supplies the other columns to the template)."""
        plain = self._plain
        if plain is not None:
            user, system = plain
            messages = [{"role": "user", "content": problem.join(user)}]
            if system is not None:
                messages.insert(0, {"role": "system", "content": problem.join(system)})
            return messages

        import jinja2

        user_template, system_template = self._compiled
        context = dict(row or {})
        context["problem"] = problem
        try:
            messages = []
            if system_template is not None:
                messages.append({"role": "system", "content": system_template.render(context)})
            messages.append({"role": "user", "content": user_template.render(context)})
        except jinja2.UndefinedError as error:
            raise UsageError(
                f"prompt template {self.name!r}: {error.message}; available fields: "
                f"{', '.join(sorted(context))}"
            ) from error
        return messages


_PROBLEM = re.compile(r"{{\s*problem\s*}}")


TEMPLATES: dict[str, PromptTemplate] = {
    "open-r1": PromptTemplate("open-r1", "{{ problem }}\n" + OPEN_R1_INSTRUCTION),
    "sky-t1": PromptTemplate(
        "sky-t1", "Return your final response within \\boxed{}. {{ problem }}", SKY_T1_SYSTEM_PROMPT
    ),
    "plain": PromptTemplate("plain", "{{ problem }}"),
}


def register_template(template: PromptTemplate) -> None:
    TEMPLATES[template.name] = template


def get_template(
    spec: str | PromptTemplate | None = "open-r1", *, system: str | None = None
) -> PromptTemplate:
    """Resolve a template: a :class:`PromptTemplate`, a built-in name, a path to a Jinja file
    (its stem is the name), or an inline Jinja string containing ``{{``.

    ``system`` replaces the template's system prompt (a string, or a path to a text file).
    """
    if spec is None:
        spec = "open-r1"
    if isinstance(spec, PromptTemplate):
        template = spec
    elif spec in TEMPLATES:
        template = TEMPLATES[spec]
    elif os.path.isfile(spec):
        path = Path(spec)
        template = PromptTemplate(path.stem, path.read_text(encoding="utf-8"))
    elif "{{" in spec:
        template = PromptTemplate("custom", spec)
    else:
        raise UsageError(
            f"unknown prompt template {spec!r}",
            hint=f"use one of {', '.join(sorted(TEMPLATES))}, a Jinja file, or an inline Jinja "
            "string with {{ problem }}",
        )
    if system is not None:
        text = Path(system).read_text(encoding="utf-8") if os.path.isfile(system) else system
        template = PromptTemplate(template.name, template.user, text or None)
    return template
