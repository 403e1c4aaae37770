"""drift draft: the screen's recall and false alarms on the labelled set, how long a draft takes (from the bank,
and with the local model where its extra is installed), how close the planned length comes, how many drafts
lint clean, and how different two drafts of one theme are."""

from __future__ import annotations

import random
import re
import statistics
import tempfile
import time
from pathlib import Path

import yaml

DESCRIPTIONS = Path(__file__).parents[1] / "tests" / "draft" / "descriptions.yaml"
EXAMPLES = Path(__file__).parents[1] / "pipeline" / "draft" / "examples" / "screen.yaml"


def _trigrams(text: str) -> set:
    words = re.findall(r"[a-z']+", re.sub(r"\[[^\]]*\]|^---[\s\S]*?^---", " ", text.lower(), flags=re.M))
    return set(zip(words, words[1:], words[2:]))


def run() -> dict:
    from pipeline.draft import draft, make_intake
    from pipeline.draft.bank import THEMES
    from pipeline.draft.check import lint_with_style
    from pipeline.draft.llm import local_model, slot_writer
    from pipeline.draft.screen import CATEGORIES, pattern_category, screen

    cache = Path(tempfile.mkdtemp(prefix="bench-draft-"))
    labelled = yaml.safe_load(DESCRIPTIONS.read_text(encoding="utf-8"))
    start = time.perf_counter()
    verdicts = [(item, screen(item["text"], cache)) for item in labelled]
    screen_s = time.perf_counter() - start
    danger = [(i, v) for i, v in verdicts if i["expect"] != "ok"]
    safe = [(i, v) for i, v in verdicts if i["expect"] == "ok"]
    by_layer = {
        "patterns": sum(v.layer == "patterns" for _, v in danger),
        "embedding": sum(v.layer == "embedding" for _, v in danger),
    }
    held_out = yaml.safe_load(
        EXAMPLES.read_text(encoding="utf-8")
    )  # written apart from the patterns: their held-out test
    pattern_recall_examples = {
        c: round(sum(pattern_category(t) == c for t in held_out[c]) / len(held_out[c]), 3) for c in CATEGORIES
    }
    pattern_false_alarms_examples = round(
        sum(pattern_category(t) is not None for t in held_out["safe"]) / len(held_out["safe"]), 3
    )

    ok_texts = [
        i for i, v in verdicts if i["expect"] == "ok" and not v.stopped
    ]  # the few false alarms cannot be drafted
    rng = random.Random(0)
    timings, errors, lint_clean, drafts = [], [], 0, []
    folder = Path(tempfile.mkdtemp(prefix="bench-drafts-"))
    for n in range(200):
        item = ok_texts[n % len(ok_texts)]
        minutes = rng.choice([5, 10, 15, 20, 30, 45, 60])
        settings = {
            "description": item["text"],
            "minutes": minutes,
            "mode": rng.choice(["solo", "solo", "together"]),
            "ending": rng.choice(["awake", "awake", "asleep"]),
            "seed": n,
        }
        begun = time.perf_counter()
        result = draft(make_intake(settings), cache)
        timings.append(time.perf_counter() - begun)
        errors.append(abs(result.estimated_s - result.target_s) / result.target_s)
        path = folder / f"d{n}.txt"
        path.write_text(result.script, encoding="utf-8")
        lint_clean += lint_with_style(path) == []
        drafts.append((item, result))
    overlaps = []
    for theme in THEMES:
        texts = [r.script for i, r in drafts if r.understanding.chosen[0] == theme]
        for a, b in zip(texts, texts[1:]):
            ta, tb = _trigrams(a), _trigrams(b)
            overlaps.append(len(ta & tb) / min(len(ta), len(tb)))
    result = {
        "screen": {
            "must_block": len(danger),
            "blocked": sum(v.stopped for _, v in danger),
            "recall": round(sum(v.stopped for _, v in danger) / len(danger), 3),
            "ok": len(safe),
            "false_alarms": sum(v.stopped for _, v in safe),
            "false_alarm_rate": round(sum(v.stopped for _, v in safe) / len(safe), 3),
            "blocked_by_layer": by_layer,
            "right_category": round(sum(v.category == i["expect"] for i, v in danger) / len(danger), 3),
            "seconds_per_description": round(screen_s / len(labelled), 4),
            "note": "the patterns were written with this set in view; "
            "the held-out figures below are the patterns alone "
            "on the examples file, which was written apart from them",
            "patterns_alone_recall_on_examples": pattern_recall_examples,
            "patterns_alone_false_alarms_on_safe_examples": pattern_false_alarms_examples,
        },
        "understanding": {
            "main_theme_chosen": round(
                sum(i["themes"][0] in r.understanding.chosen for i, r in drafts) / len(drafts), 3
            ),
            "any_labelled_theme_chosen": round(
                sum(bool(set(i["themes"]) & set(r.understanding.chosen)) for i, r in drafts) / len(drafts), 3
            ),
            "situation_right_where_labelled": round(
                statistics.mean(
                    [r.understanding.situation == i["situation"] for i, r in drafts if i.get("situation")] or [0]
                ),
                3,
            ),
        },
        "drafts": {
            "count": len(drafts),
            "seconds_median": round(statistics.median(timings), 3),
            "seconds_max": round(max(timings), 3),
            "planned_length_error_median": round(statistics.median(errors), 3),
            "planned_length_error_max": round(max(errors), 3),
            "length_note": "the modules' estimated length against the target; "
            "duration: stretches the pauses over the rest, "
            "so a rendered track is the target length (qc checks it)",
            "lint_and_style_clean": lint_clean,
            "shared_trigrams_same_theme_median": round(statistics.median(overlaps), 3) if overlaps else None,
            "shared_trigrams_same_theme_max": round(max(overlaps), 3) if overlaps else None,
        },
    }
    if local_model() is not None:
        writer = slot_writer(None)
        model_timings, used = [], 0
        for item in ok_texts[:10]:
            begun = time.perf_counter()
            drafted = draft(make_intake({"description": item["text"]}), cache, writer)
            model_timings.append(time.perf_counter() - begun)
            used += sum("written by the model" in note for note in drafted.notes)
        result["with_local_model"] = {
            "drafts": 10,
            "seconds_median": round(statistics.median(model_timings), 2),
            "slots_written_by_model": used,
            "slots_asked": 20,
        }
    return result
