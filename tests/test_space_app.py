"""The Space as deployed: the ``spaces/`` folder, what ``import toolkit.chat`` costs, the
``toolkit space`` CLI, and 20 visitors chatting at once through the Gradio queue (issue 15.6)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("datasets", "pandas", "pyarrow", "torch", "math_verify", "gradio", "transformers")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        check=False,
    )


# --------------------------------------------------------------------------------------------
# the cost of importing the chat (issue 10.4) and what the Space must install
# --------------------------------------------------------------------------------------------


def test_import_toolkit_chat_imports_nothing_heavy():
    code = (
        "import sys, json, toolkit.chat, toolkit.chat.session, toolkit.chat.app, "
        "toolkit.chat.render; "
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [], "import toolkit.chat pulled in heavy packages"


def _requirement_names(lines: list[str]) -> set[str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return {
        canonicalize_name(Requirement(line.split("#")[0].strip()).name)
        for line in lines
        if line.split("#")[0].strip()
    }


def _closure(names: set[str]) -> set[str]:
    """The distributions ``names`` install (their non-extra requirements, transitively)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_space_requirements_are_what_the_chat_needs(tiny_model_dir):
    """Every package that the toolkit's code imports during a chat turn (each backend) is
    installed by requirements.txt or gradio; nothing of the pipeline (datasets, pandas, pyarrow,
    math-verify) is listed. (Packages that a dependency imports only because they happen to be
    installed here, such as protobuf for transformers, are that dependency's business.)"""
    lines = (REPO / "spaces" / "requirements.txt").read_text().splitlines()
    listed = _requirement_names(lines)
    assert not listed & {"datasets", "pandas", "pyarrow", "math-verify", "trl", "gradio"}
    assert {"aiohttp", "ollama", "torch", "transformers", "peft"} <= listed
    code = f"""
import ast, asyncio, json, sys
from importlib.metadata import packages_distributions
from toolkit.chat import SpaceSettings
from toolkit.chat.session import ChatSession
import toolkit.chat.app
from toolkit.backends.openai import OpenAIModel
from toolkit.backends.ollama import OllamaModel

async def touch():
    OpenAIModel("m", "http://127.0.0.1:9/v1")._client()
    OllamaModel("m")._get_client()
    session = ChatSession(SpaceSettings(model={str(tiny_model_dir)!r}))
    return [view async for view in session.respond("hi", [], max_new_tokens=2)]

asyncio.run(touch())
import gradio
owners = packages_distributions()

def distributions(names):
    found = set()
    for name in names:
        top = name.split(".")[0]
        if top and top not in sys.stdlib_module_names and top != "toolkit":
            found.update(owners.get(top, []))
    return found

# What the toolkit's own code imports (also lazily, inside functions), among what ran.
imported = set()
for module in list(sys.modules.values()):
    path = getattr(module, "__file__", None) or ""
    if not getattr(module, "__name__", "").startswith("toolkit") or not path.endswith(".py"):
        continue
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            imported.add(node.module)
print(json.dumps(sorted(distributions(imported) & distributions(sys.modules))))
"""
    result = _python(code)
    assert result.returncode == 0, result.stderr[-3000:]
    from packaging.utils import canonicalize_name

    used = {canonicalize_name(name) for name in json.loads(result.stdout.splitlines()[-1])}
    installed = _closure(listed | {"gradio"}) | {"r1-distill-toolkit"}
    missing = sorted(used - installed)
    assert not missing, f"imported by the chat but not installed by the Space: {missing}"


# --------------------------------------------------------------------------------------------
# the Space folder
# --------------------------------------------------------------------------------------------


def _front_matter(path: Path) -> dict:
    text = path.read_text()
    assert text.startswith("---\n"), "README.md must start with YAML front matter"
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_space_readme_front_matter_is_valid():
    import gradio

    from toolkit.chat.settings import DEFAULT_TRANSFORMERS_MODEL

    meta = _front_matter(REPO / "spaces" / "README.md")
    assert meta["sdk"] == "gradio"
    assert meta["sdk_version"] == gradio.__version__
    assert (REPO / "spaces" / meta["app_file"]).is_file()
    for key in ("title", "emoji", "colorFrom", "colorTo", "license", "short_description"):
        assert meta.get(key), f"front matter lacks {key}"
    colors = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}
    assert meta["colorFrom"] in colors and meta["colorTo"] in colors
    assert len(meta["short_description"]) <= 60
    assert isinstance(meta["models"], list) and meta["models"]
    assert DEFAULT_TRANSFORMERS_MODEL in meta["models"]


def test_space_app_imports_standalone_and_builds_the_demo(monkeypatch):
    monkeypatch.setenv("TOOLKIT_SPACE_BACKEND", "openai")
    monkeypatch.setenv("TOOLKIT_SPACE_BASE_URL", f"http://127.0.0.1:{_closed_port()}/v1")
    spec = importlib.util.spec_from_file_location("space_app", REPO / "spaces" / "app.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "space_app", module)
    spec.loader.exec_module(module)
    import gradio

    assert isinstance(module.demo, gradio.Blocks)
    assert module.SETTINGS.backend == "openai"


def test_demo_page_names_the_model_and_hides_the_server(monkeypatch):
    """Issue 14.5: the title is the served model's name; no URL or server path on the page."""
    from tests.helpers.servers import OpenAIServer
    from toolkit.chat import SpaceSettings, build_demo

    with OpenAIServer(model="DeepSeek-R1-Distill-Qwen-7B") as server:
        demo = build_demo(SpaceSettings(backend="openai", base_url=server.url + "/v1"))
    config = json.dumps(demo.get_config_file(), default=str)
    assert "DeepSeek-R1-Distill-Qwen-7B" in config
    assert server.url not in config and "127.0.0.1" not in config
    local = build_demo(SpaceSettings(model="/srv/space/runs/tiny-cpu/final"))
    config = json.dumps(local.get_config_file(), default=str)
    assert "tiny-cpu" in config and "/srv/space" not in config


# --------------------------------------------------------------------------------------------
# toolkit space (CLI)
# --------------------------------------------------------------------------------------------


def _cli_space_module():
    import importlib

    return importlib.import_module("toolkit.cli.space")


def test_cli_space_launches_the_app_for_a_trained_model_dir(monkeypatch, tiny_model_dir):
    from typer.testing import CliRunner

    from toolkit.cli import app

    launched = {}

    def fake_launch(demo, *, host, port, share):
        launched.update(demo=demo, host=host, port=port, share=share)

    monkeypatch.setattr(_cli_space_module(), "launch", fake_launch)
    result = CliRunner().invoke(
        app, ["space", "--model", str(tiny_model_dir), "--port", "0", "--max-new-tokens", "32"]
    )
    assert result.exit_code == 0, result.output
    import gradio

    assert isinstance(launched["demo"], gradio.Blocks)
    assert launched == {**launched, "host": "127.0.0.1", "port": 0, "share": False}
    assert str(tiny_model_dir) in result.output or tiny_model_dir.name in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "./no/such/dir"], "does not exist"),
        (["--backend", "vllm"], "--backend 'vllm' is not one of"),
        (["--prefilled-thinking", "maybe"], "--prefilled-thinking 'maybe' is not one of"),
    ],
)
def test_cli_space_bad_arguments_are_one_line_errors(monkeypatch, args, message):
    from typer.testing import CliRunner

    from toolkit.cli import app

    monkeypatch.setattr(_cli_space_module(), "launch", lambda *a, **k: pytest.fail("launched"))
    result = CliRunner().invoke(app, ["space", *args])
    assert result.exit_code == 1
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_cli_space_rejects_a_dir_that_is_not_a_model(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from toolkit.cli import app

    monkeypatch.setattr(_cli_space_module(), "launch", lambda *a, **k: pytest.fail("launched"))
    result = CliRunner().invoke(app, ["space", "--model", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not a model directory" in " ".join(result.output.split())


# --------------------------------------------------------------------------------------------
# issue 15.6: many visitors at once
# --------------------------------------------------------------------------------------------

CHATS = 20


async def _chat_through_the_queue(session, url: str, fn_index: int) -> float:
    """One chat as a browser tab runs it: join Gradio's queue, read the event stream until the
    turn completes. (A lean client: gradio_client polls and deep-copies every update, which on
    2 cores costs more CPU than the server being measured.)"""
    session_hash = uuid.uuid4().hex[:12]
    started = time.monotonic()
    payload = {
        "data": ["Count.", [], "", 0.6, 256],
        "fn_index": fn_index,
        "session_hash": session_hash,
        "event_data": None,
        "trigger_id": None,
    }
    async with session.post(f"{url}/gradio_api/queue/join", json=payload) as response:
        response.raise_for_status()
        event_id = (await response.json())["event_id"]
    answered = False
    params = {"session_hash": session_hash}
    async with session.get(f"{url}/gradio_api/queue/data", params=params) as response:
        async for line in response.content:
            if not line.startswith(b"data:"):
                continue
            answered = answered or b"done." in line
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed" and message["event_id"] == event_id:
                assert message.get("success") and answered, message
                return time.monotonic() - started
    raise AssertionError("the event stream ended before the turn completed")


@pytest.mark.integration
def test_twenty_concurrent_chats_stream_together(tmp_path):
    """20 chats through the Gradio queue against a loopback server whose answers take ~2 s:
    the median latency stays within 2x of a single chat (one chat at a time: ~10x)."""
    import aiohttp

    from tests.helpers.browser import served
    from tests.helpers.space_backends import LoopbackChatServer
    from toolkit.chat import SpaceSettings, build_demo

    reasoning = [f"step {i}. " for i in range(10)]
    answer = [f"part {i} " for i in range(9)] + ["done."]

    async def measure(url: str, fn_index: int) -> tuple[float, list[float]]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            singles = [await _chat_through_the_queue(session, url, fn_index) for _ in range(3)]
            together = await asyncio.gather(
                *(_chat_through_the_queue(session, url, fn_index) for _ in range(CHATS))
            )
        return min(singles[1:]), list(together)  # the first single chat warms up

    with LoopbackChatServer(reasoning, answer, delay_s=0.1) as server:
        settings = SpaceSettings(backend="openai", base_url=server.url)
        demo = build_demo(settings)
        config = demo.get_config_file()
        fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "chat")
        with served(demo) as url:
            load_before = os.getloadavg()[0]
            single, latencies = asyncio.run(measure(url.rstrip("/"), fn_index))
    median = statistics.median(latencies)
    figures = {
        "single_s": round(single, 2),
        "min_s": round(min(latencies), 2),
        "median_s": round(median, 2),
        "max_s": round(max(latencies), 2),
        "load_average_1min": round(load_before, 2),
        "concurrency_limit": settings.resolved_concurrency,
    }
    (tmp_path / "space_load.json").write_text(json.dumps(figures))
    print(f"space load test: {figures}")
    assert median <= 2 * single, figures
