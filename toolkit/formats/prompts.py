"""Prompt text that sources wrap around the problem, and system prompts that contradict the target.

Two design choices a user training on normalized data needs made for them (issue 12):

* **Answer-format instructions are not part of the problem.** Bespoke-Stratos and OpenThoughts
  prefix math problems with "Return your final response within \\boxed{}."; OpenR1 and NVIDIA sets
  add "Please reason step by step, and put your final answer within \\boxed{}.". Left in
  ``problem`` they change ``problem_id`` (so the same problem from two sources is never deduplicated)
  and leak into decontamination n-grams. They are stripped from ``problem`` and kept in
  ``metadata["prompt_template"]``. Only instructions that ask for the *form* of the final answer
  are stripped: code prompts ("Generate an executable Python function … call the function after
  the definition") change what a correct answer is, so they stay part of the problem.
* **System prompts that name other markers are rewritten.** The Sky-T1 system prompt of
  Bespoke-Stratos/OpenThoughts asks for ``<|begin_of_thought|>``/``<|begin_of_solution|>``, while
  ``messages`` renders the thinking as ``<think>…</think>`` and the solution bare: an SFT target
  that contradicts its own system prompt. ``system_prompt="rewrite"`` (the default) replaces the
  marker names with the ones the target uses, ``"drop"`` removes such system prompts, ``"keep"``
  leaves them as they are. Whenever a system prompt is changed, the original is kept in
  ``metadata["source_system"]``.
"""

from __future__ import annotations

import re

from toolkit.errors import UsageError

#: Answer-format instructions stripped from the start or the end of a problem.
TEMPLATES = (
    "Return your final response within \\boxed{}.",
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "Please reason step by step, and put your final answer within \\boxed{{}}.",
    "Solve the following math problem. Make sure to put the answer (and only answer) inside "
    "\\boxed{}.",
)
SYSTEM_PROMPT_POLICIES = ("rewrite", "drop", "keep")

# Marker names in system prompts → what the rendered SFT target uses (no markers around the
# solution: the answer follows </think> bare).
_MARKER_REWRITES = (
    ("<|begin_of_thought|>", "<think>"),
    ("<|end_of_thought|>", "</think>"),
    ("<|begin_of_solution|>", ""),
    ("<|end_of_solution|>", ""),
)
_SPACES = re.compile(r"[ \t]{2,}")


def strip_template(problem: str) -> tuple[str, str | None]:
    """``(problem without a known answer-format instruction, the instruction or None)``.

    Cheap on the common path: a problem without ``boxed`` in it is returned untouched after one
    substring scan (this runs once per record)."""
    if "boxed" not in problem:
        return problem, None
    for template in TEMPLATES:
        if problem.startswith(template):
            return problem[len(template) :].strip(), template
        if problem.endswith(template):
            return problem[: -len(template)].strip(), template
    return problem, None


def names_other_markers(system: str) -> bool:
    """Whether a system prompt asks for markers the rendered target does not use."""
    return "<|" in system and any(marker in system for marker, _ in _MARKER_REWRITES)


def rewrite_system(system: str) -> str:
    """The system prompt with Sky-T1 marker names replaced by the ``<think>`` convention."""
    for marker, replacement in _MARKER_REWRITES:
        system = system.replace(marker, replacement)
    return _SPACES.sub(" ", system).strip()


class SystemPromptPolicy:
    """Applies ``system_prompt="rewrite"|"drop"|"keep"`` once per distinct system prompt.

    Datasets repeat one system prompt on every row (Bespoke-Stratos: the same 1.3 KB on all 17k
    rows), so results are cached by the prompt text.
    """

    def __init__(self, policy: str = "rewrite") -> None:
        if policy not in SYSTEM_PROMPT_POLICIES:
            raise UsageError(
                f"system_prompt must be one of {', '.join(SYSTEM_PROMPT_POLICIES)}, not {policy!r}",
                hint="rewrite (default) makes the system prompt name the markers the SFT target "
                "uses; drop removes such prompts; keep leaves them unchanged",
            )
        self.policy = policy
        self._cache: dict[str, str | None] = {}

    def apply(self, system: str | None) -> tuple[str | None, bool]:
        """``(system prompt to use, whether it was changed)``."""
        if system is None or self.policy == "keep":
            return system, False
        try:
            new = self._cache[system]
        except KeyError:
            if not names_other_markers(system):
                new = system
            else:
                new = rewrite_system(system) if self.policy == "rewrite" else None
            self._cache[system] = new
        return new, new != system
