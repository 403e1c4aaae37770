"""Composing a session: modules from the bank along the arc, their slots filled, the length met, the text checked.

The arc is arrival (with the reflection) → breath induction → deepening → one or two theme modules (the
person's situation in their imagery) → integration (an anchor for daily life) → return, or sleep. Variants
are drawn by a generator seeded from the description, the settings and ``--seed``, so the same request gives
the same script. The length is met by the modules chosen (shorter variants, or more of them: another theme
module, a guided stillness) and then by the front matter's ``duration:``, which stretches the pauses; never by
a faster voice.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError
from .bank import THEMES, Module, data_file, estimate_parts, estimate_seconds, read_toml
from .intake import Intake
from .screen import Finding, capitalised, normalise, outgoing
from .style import phrase_problems
from .understand import Understanding

LEAD_AND_TAIL_S = 16.0
"""The renderer's lead-in before the first word and tail after the last."""
FILL = 0.86
"""Add modules while the estimate is below this share of the length; pauses stretch over the rest."""
SHORT_SESSION_S = 7 * 60
"""A session shorter than this has no deepening of its own (its breath induction does the settling, and the
minutes go to the theme), and one that ends in sleep has no anchor for the day either."""
FIT = 0.95
"""Never plan more than this share: the estimate is an estimate, and ``duration:`` can stretch but not shrink."""
PHASE_VOICE = {"deepening": "deep", "stillness": "deep", "sleep": "close"}
"""The default narrator's presets by phase: one voice, a semitone lower for going deep, closer for sleep."""
TITLES = {
    "presence": ["Here, together", "Arriving with each other"],
    "self-attunement": ["Coming back to yourself", "Listening inward"],
    "co-regulation": ["Steady together", "Two breaths, one calm"],
    "turning-toward": ["Turning toward", "The small reaches"],
    "rupture-repair": ["Finding the way back", "After the storm"],
    "feeling-seen": ["Being seen", "As you are"],
    "listening": ["Listening to understand", "Hearing what is felt"],
    "pursue-withdraw": ["Reaching and resting", "The space between you"],
    "flooding": ["When the wave rises", "Cooling the fire"],
    "drift-apart": ["Finding each other again", "Side by side"],
}
SLOT_WORDS = {"reflection": (8, 60), "scene": (6, 45)}
"""Spoken words a filled slot may hold: a written variant or a model's, the same bound."""

SlotWriter = Callable[[str, dict], str | None]
"""Writes a slot ('reflection' or 'scene') from a bounded context, or gives up with None."""


@dataclass(frozen=True, kw_only=True)
class Draft:
    """A drafted session: its script text and what went into it. Holds no text of the description."""

    script: str
    name: str
    """A file name for it (without suffix): its main theme and situation."""
    understanding: Understanding
    modules: tuple[str, ...]
    estimated_s: float
    """The modules' estimated length before the pauses stretch to the session's."""
    target_s: float
    pause_stretch: float
    """How much ``duration:`` will stretch every pause to reach the target (1: none; a sleep ending's bed runs on)."""
    notes: tuple[str, ...] = ()
    """What a reader of ``--explain`` should know: a slot a model wrote, or one it failed and a written one took."""


def seed_for(intake: Intake, understanding: Understanding) -> int:
    """One number from everything that shapes the session: the same request, the same script."""
    request = json.dumps(
        [normalise(intake.description), intake.settings(), understanding.chosen], sort_keys=True, default=str
    )
    return int(hashlib.sha256(request.encode()).hexdigest()[:16], 16)


def compose(
    intake: Intake, understanding: Understanding, bank: tuple[Module, ...], writer: SlotWriter | None = None
) -> Draft:
    rng = random.Random(seed_for(intake, understanding))
    target = intake.minutes * 60
    notice = data_file("notice.txt").read_text(encoding="utf-8").strip()
    notes: list[str] = []
    known = known_words(bank)
    given = {n for n in (intake.name, intake.partner) if n}
    reflection = _fill(
        "reflection",
        _reflection(understanding, rng),
        _context(intake, understanding, "reflection"),
        writer,
        given,
        known,
        notes,
    )
    scenes = _scenes(understanding, rng)
    scenes[0] = _fill("scene", scenes[0], _context(intake, understanding, "scene"), writer, given, known, notes)

    def assemble(plan: list[Module]) -> str:
        parts, voice, theme_count = [notice], intake.voice, 0
        for module in plan:
            body = module.body.replace("{{reflection}}", reflection)
            if "{{scene}}" in body:
                body = body.replace("{{scene}}", scenes[theme_count % len(scenes)])
                theme_count += 1
            wanted = PHASE_VOICE.get(module.phase, "default") if intake.voice == "default" else intake.voice
            if wanted != voice:
                heading, _, rest = body.partition("\n")
                body, voice = f"{heading}\n[voice {wanted}] {rest.lstrip()}", wanted
            parts.append(body)
        if intake.ending == "asleep":
            parts.append(
                f"[pause 20s] [bed off 60s] [pause 40s]\n[end {_clock(intake.bed_until_s)}]"
                if intake.bed_until_s
                else "[pause 5s] [bed off 20s] [pause 20s]"
            )
        return "\n\n".join(parts) + "\n"

    try:
        plan = _plan(
            intake,
            understanding,
            bank,
            random.Random(rng.random()),
            target,
            lambda modules: LEAD_AND_TAIL_S + estimate_seconds(assemble(modules)),
        )
    except ConfigError:
        if writer is None:
            raise
        return compose(intake, understanding, bank, None)  # a model's longer slots must not cost the session its arc
    body = assemble(plan)
    script = _front_matter(intake, understanding, plan, rng) + body
    if problems := outgoing(body, given, known):
        raise ConfigError(
            "the drafted text failed the outgoing screen: " + "; ".join(f"{p.what} ('{p.words}')" for p in problems)
        )
    name = "-".join([understanding.chosen[0], *([understanding.situation] if understanding.situation else [])])
    speech, pauses = estimate_parts(body)
    stretch = 1.0 if intake.bed_until_s else (target - LEAD_AND_TAIL_S - speech) / pauses
    return Draft(
        script=script,
        name=name,
        understanding=understanding,
        modules=tuple(m.id for m in plan),
        estimated_s=LEAD_AND_TAIL_S + speech + pauses,
        target_s=target,
        pause_stretch=round(stretch, 3),
        notes=tuple(notes),
    )


PHASE_ORDER = ("arrival", "induction", "deepening", "theme", "stillness", "integration", "return", "sleep")
EXTRAS = ("theme", "stillness", "next theme", "deepening")
"""What a session well short of its length gets more of, in this order: its themes' other modules, a guided
stillness, the modules of the theme the description came next closest to, one more deepening."""


def _plan(
    intake: Intake,
    understanding: Understanding,
    bank: tuple[Module, ...],
    rng: random.Random,
    target: float,
    measure: Callable[[list[Module]], float],
) -> list[Module]:
    """The modules, in order: one of each phase of the arc, then shorter variants while the whole is too long, then
    more (another theme module, a stillness, a second deepening) while it is well short. ``measure`` says how long
    a plan lasts as assembled, slots, notice and pauses between modules included."""

    def pool(phase: str, theme: str | None = None) -> list[Module]:
        return [m for m in bank if m.phase == phase and m.serves(intake.mode) and (theme is None or theme in m.themes)]

    last = "sleep" if intake.ending == "asleep" else "return"
    short = target < SHORT_SESSION_S
    deepening = [] if short else [("deepening", None)]
    integration = [] if short and last == "sleep" else [("integration", None)]
    slots: list[tuple[str, str | None]] = [
        ("arrival", None),
        ("induction", None),
        *deepening,
        *(("theme", t) for t in understanding.chosen),
        *integration,
        (last, None),
    ]
    for phase, theme in slots:
        if not pool(phase, theme):
            raise ConfigError(
                f"the drafting bank has no {intake.mode} {phase} module" + (f" for {theme}" if theme else "")
            )
    chosen = {slot: rng.choice(pool(*slot)) for slot in slots}
    extras: list[Module] = []

    def ordered(modules: list[Module]) -> list[Module]:
        """Phases in the arc's order; in the middle, each theme module after the first has a stillness before it."""
        by_phase = {phase: [m for m in modules if m.phase == phase] for phase in PHASE_ORDER}
        middle, still = [], by_phase["stillness"]
        for i, module in enumerate(by_phase["theme"]):
            middle += ([still[i - 1]] if 0 < i <= len(still) else []) + [module]
        middle += still[max(0, len(by_phase["theme"]) - 1) :]
        return [
            *by_phase["arrival"],
            *by_phase["induction"],
            *by_phase["deepening"],
            *middle,
            *by_phase["integration"],
            *by_phase["return"],
            *by_phase["sleep"],
        ]

    def total(plus: tuple[Module, ...] = ()) -> float:
        return measure(ordered([*chosen.values(), *extras, *plus]))

    while total() > target * FIT:  # too long: the longest module that has a shorter sibling steps down to the next
        shorter = {
            slot: [m for m in pool(*slot) if m.estimated_s < module.estimated_s] for slot, module in chosen.items()
        }
        candidates = [slot for slot in chosen if shorter[slot]]
        if not candidates:
            if len(understanding.chosen) > 1 and ("theme", understanding.chosen[-1]) in chosen:
                chosen.pop(("theme", understanding.chosen[-1]))
                continue
            raise ConfigError(
                f"a session of {intake.minutes:g} minutes cannot hold the arc: its shortest modules take "
                f"{total() / 60:.1f} minutes",
                None,
            )
        framing = [
            slot for slot in candidates if slot[0] != "theme"
        ]  # the theme is the session's heart: it shrinks last
        slot = max(framing or candidates, key=lambda slot: chosen[slot].estimated_s)
        chosen[slot] = max(shorter[slot], key=lambda m: m.estimated_s)
    in_play = [t for (phase, t) in chosen if phase == "theme"]
    following = (
        [t for t, _ in understanding.themes if t not in understanding.chosen][:1]
        if not understanding.overridden
        else []
    )
    kinds = {
        "theme": [m for t in in_play for m in pool("theme", t)],
        "stillness": pool("stillness"),
        "next theme": [m for t in following for m in pool("theme", t)],
        "deepening": pool("deepening"),
    }
    while total() < target * FILL:
        taken = [*chosen.values(), *extras]
        fitting = {
            kind: [m for m in dict.fromkeys(modules) if m not in taken and total([m]) <= target * FIT]
            for kind, modules in kinds.items()
        }
        if sum(m.phase == "deepening" for m in taken) > 1:
            fitting["deepening"] = []  # one more deepening at most: a third in a row is a lull, not a deepening
        kind = next((kind for kind in EXTRAS if fitting[kind]), None)
        if kind is None:
            break
        extras.append(rng.choice(fitting[kind]))
    return ordered([*chosen.values(), *extras])


def _reflection(understanding: Understanding, rng: random.Random) -> str:
    table = read_toml(data_file("reflections.toml"))[understanding.chosen[0]]
    moment = understanding.moment
    if not moment and understanding.situation:
        moment = read_toml(data_file("situations.toml"))[understanding.situation]["moment"]
    if moment:
        line = rng.choice(table["with_moment"]).replace("{Moment}", moment[0].upper() + moment[1:])
        if not phrase_problems(line):  # the person's words follow the writing guide too, or are not said back
            return line
    return rng.choice(table["general"])


def _scenes(understanding: Understanding, rng: random.Random) -> list[str]:
    situations = read_toml(data_file("situations.toml"))
    scenes = list(situations[understanding.situation or "everyday"]["scenes"])
    rng.shuffle(scenes)
    return scenes


def _context(intake: Intake, understanding: Understanding, slot: str) -> dict:
    """What a model is told for a slot: the description only for the reflection, which names it back."""
    situations = read_toml(data_file("situations.toml"))
    context = {
        "themes": [THEMES[t] for t in understanding.chosen],
        "other": understanding.other or "partner",
        "situation": situations[understanding.situation]["label"] if understanding.situation else "an ordinary moment",
        "together": intake.mode == "together",
    }
    if slot == "reflection":
        context["description"] = intake.description
    return context


def _fill(
    slot: str,
    written: str,
    context: dict,
    writer: SlotWriter | None,
    given: set[str],
    known: set[str],
    notes: list[str],
) -> str:
    """A model's text for a slot when it passes every check a written one would, else the written one."""
    if writer is None:
        return written
    try:
        proposed = writer(slot, context)
    except Exception as exc:  # a model that fails in any way leaves the written variant in place
        notes.append(f"the model failed writing the {slot} ({type(exc).__name__}); a written variant was used")
        return written
    if proposed is None:
        notes.append(f"the model gave no {slot}; a written variant was used")
        return written
    problem = slot_problem(slot, proposed, given, known)
    if problem:
        notes.append(f"the model's {slot} was not used ({problem}); a written variant was used")
        return written
    notes.append(f"the {slot} was written by the model")
    return proposed


def slot_problem(slot: str, text: str, given: set[str], known: set[str]) -> str | None:
    """Why a proposed slot text cannot stand in a session, or None: its length, its markup, the outgoing screen."""
    words = len(re.findall(r"[A-Za-z']+", re.sub(r"\[[^\]]*\]", " ", text)))
    low, high = SLOT_WORDS[slot]
    if not low <= words <= high:
        return f"{words} words, not {low}–{high}"
    if re.search(r"[{}#<>]|^\s*//|\[(?!pause \d+(?:\.\d+)?s\])[^\]]*\]", text, re.M) or "\n" in text.strip():
        return "markup other than pauses"
    if max((len(s.split()) for s in re.split(r"[.!?]", re.sub(r"\[[^\]]*\]", " ", text))), default=0) > 25:
        return "a sentence too long for one breath"
    if re.search(r"\b(?:I|me|my|mine|we|us|our|I'm|we're)\b", text):
        return "not in the second person"
    findings: list[Finding] = outgoing(text, given, known)
    if findings:
        return "; ".join(f"{f.what} ('{f.words}')" for f in findings)
    if style := phrase_problems(text):
        return style[0]
    return None


def known_words(bank: tuple[Module, ...]) -> set[str]:
    """Every capitalised word the bank itself says: the outgoing screen's list of what is not a stranger's name."""
    texts = [m.body for m in bank] + [
        data_file(n).read_text(encoding="utf-8") for n in ("notice.txt", "reflections.toml", "situations.toml")
    ]
    return {w for text in texts for w in capitalised(text) if w[0].isupper()}


def _front_matter(intake: Intake, understanding: Understanding, plan: list[Module], rng: random.Random) -> str:
    role = understanding.other
    partner = intake.partner or (
        "the person beside you"
        if intake.mode == "together"
        else f"your {role}"
        if role and role != "partner"
        else "your partner"
    )
    situations = read_toml(data_file("situations.toml"))
    listeners = "two people listening side by side" if intake.mode == "together" else "one listener"
    summary = (
        f"A session on {' and '.join(THEMES[t] for t in understanding.chosen)}, for {listeners}"
        + (f", around {situations[understanding.situation]['label']}" if understanding.situation else "")
        + "."
    )
    sleep = intake.ending == "asleep"
    drafted = {
        "themes": list(understanding.chosen),
        "situation": understanding.situation,
        "mode": intake.mode,
        "minutes": intake.minutes,
        "ending": intake.ending,
        "seed": intake.seed,
        "modules": [m.id for m in plan],
    }
    lines = [
        "---",
        f"title: {json.dumps(rng.choice(TITLES[understanding.chosen[0]]), ensure_ascii=False)}",
        "author: Drift Inward",
        "album: Drafted sessions",
        f"summary: {json.dumps(summary, ensure_ascii=False)}",
        f"voice: {intake.voice}",
        f"ambience: {intake.ambience or ('rain-on-leaves' if sleep else 'hearth')}",
        f"profile: {intake.profile or ('meditation' if sleep else 'podcast')}",
        'breath: {pace: 6, ratio: "4:6"}',
        *([] if intake.bed_until_s else [f"duration: {intake.minutes:g}m"]),
        f"seed: {intake.seed}",
        f"vars: {{name: {json.dumps(intake.name or 'friend', ensure_ascii=False)}, "
        f"partner: {json.dumps(partner, ensure_ascii=False)}}}",
        f"drafted: {json.dumps(drafted)}",
        "---",
        "// Drafted by drift draft from the drafting bank (modules/). "
        "The description it was made from is not kept here.",
        "",
    ]
    return "\n".join(lines)


def _clock(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
