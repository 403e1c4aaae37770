"""Understanding a description: the themes it is about (each with a confidence), the concrete situation it
names, who the other person is, and the person's own "when …" moment, ready to be said back to them.

Themes are scored by two readers that agree more often than either is right alone: curated cue phrases,
and the description's nearness to labelled examples of each theme (``examples/themes.yaml``) in the same
multilingual embedding the safety screen uses. Nothing here keeps the description: what it returns holds
the themes, an id of a situation, a role, and at most one short clause turned into the second person.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from .bank import THEMES, data_file, read_toml
from .screen import embed, labelled_vectors, normalise

EXAMPLES = Path(__file__).with_name("examples") / "themes.yaml"

_CUES: dict[str, list[str]] = {
    "presence": [
        r"\bphones?\b",
        r"\bscreens?\b",
        r"\bscroll\w*",
        r"\bdistracted\b",
        r"\b(?:not|never) (?:really )?(?:here|present|there)\b",
        r"\bhalf[- ]listen\w*",
        r"\bmind (?:is )?(?:elsewhere|somewhere else|on work)\b",
        r"\bmultitask\w*",
        r"\bpresent\b",
        r"\bin the moment\b",
        r"\b(?:tv|laptop|emails?)\b",
        r"\bmovil\b|\bcelular\b|\bportable\b|\bhandy\b",
    ],
    "self-attunement": [
        r"\b(?:what|how) i (?:feel|need|want)\b",
        r"\blose myself\b",
        r"\blost myself\b",
        r"\bpeople[- ]pleas\w*",
        r"\bmy own needs\b",
        r"\bnumb\b",
        r"\bdon'?t know what i (?:feel|need|want)\b",
        r"\bput (?:everyone|them|him|her) first\b",
        r"\bsay yes\b",
        r"\bresent\w*",
        r"\bmy feelings\b",
        r"\bboundar\w*",
        r"\bexhausted from\b",
    ],
    "co-regulation": [
        r"\banxious\b",
        r"\banxiety\b",
        r"\bpanic\w*",
        r"\bcalm (?:each other|him|her|them|down|me)\b",
        r"\bsettle\w*",
        r"\bon edge\b",
        r"\bnervous\b",
        r"\bstress\w*",
        r"\bsoothe\w*",
        r"\bcomfort\w*",
        r"\bwound up\b",
        r"\bspiral\w*",
        r"\bsteady\b",
        r"\bnervous system\b",
        r"\bfeeds off\b",
        r"\bmy energy\b|\btheir energy\b|\bhis energy\b|\bher energy\b",
    ],
    "turning-toward": [
        r"\bbids?\b",
        r"\bignor\w*",
        r"\b(?:doesn'?t|don'?t|didn'?t|never) (?:notice|look up|respond|answer|react)\w*",
        r"\bmiss(?:ed|es|ing)? (?:it|the moment|when|what)\b",
        r"\bbrush\w* (?:me|him|her|it) off\b",
        r"\bsmall things\b",
        r"\bshow(?:ed|s)? (?:him|her|them|me) (?:something|a)\b",
        r"\bwants? (?:my|his|her) attention\b",
        r"\bdismiss\w*",
        r"\breach(?:es|ed)? (?:out )?for me\b",
        r"\bno reaction\b",
    ],
    "rupture-repair": [
        r"\bapolog\w*",
        r"\bsorry\b",
        r"\bmake up\b",
        r"\bafter (?:a|the|our|every|each) (?:fight|argument|row)\b",
        r"\brepair\w*",
        r"\breconnect\w*",
        r"\bforgiv\w*",
        r"\bhurt (?:him|her|them|each other)\b",
        r"\bsaid something\b",
        r"\bcold war\b",
        r"\bdays? (?:of )?silence\b",
        r"\bget back to (?:normal|each other)\b",
        r"\bblew up\b",
        r"\bdisculp\w*|\bexcus\w*|\bentschuldig\w*|\bdesculp\w*",
    ],
    "feeling-seen": [
        r"\bunseen\b",
        r"\binvisible\b",
        r"\bdoesn'?t (?:see|get|understand) (?:me|who i am)\b",
        r"\bmisunderstood\b",
        r"\bunderstood\b",
        r"\bknow(?:s)? (?:the real )?me\b",
        r"\bthe real me\b",
        r"\bappreciat\w*",
        r"\btaken for granted\b",
        r"\bno one (?:sees|notices)\b",
        r"\bjudg\w*",
        r"\bwho i (?:really )?am\b",
        r"\bnoticed\b",
        r"\bvisto\b|\bvue?\b|\bgesehen\b",
    ],
    "listening": [
        r"\blisten\w*",
        r"\binterrupt\w*",
        r"\bfix (?:it|things|my problems|everything)\b",
        r"\bsolutions?\b",
        r"\badvice\b",
        r"\bhear (?:me|him|her|them|what)\b",
        r"\bheard\b",
        r"\bdefensive\b",
        r"\bmy turn\b",
        r"\bwaiting to (?:talk|speak|answer)\b",
        r"\bescuch\w*|\becout\w*|\bzuhor\w*|\bzuhoer\w*|\bouv\w*",
    ],
    "pursue-withdraw": [
        r"\bgoes? (?:quiet|silent|cold|dark)\b",
        r"\bwent (?:quiet|silent|cold)\b",
        r"\bshuts? down\b",
        r"\bshut down\b",
        r"\bwithdraw\w*",
        r"\bpull(?:s|ed|ing)? away\b",
        r"\bkeep (?:texting|calling|pushing|asking|chasing)\b",
        r"\bchas\w*",
        r"\bpursu\w*",
        r"\bleaves? the room\b",
        r"\bwalks? (?:away|out)\b",
        r"\bneeds? space\b",
        r"\bstonewall\w*",
        r"\bthe more i\b",
        r"\bcloses? off\b",
        r"\bclam\w* up\b",
        r"\bsilent treatment\b",
    ],
    "flooding": [
        r"\bheart (?:races|racing|pounding|pounds)\b",
        r"\bflood\w*",
        r"\bexplode\b",
        r"\bblow up\b",
        r"\bsnap\w*",
        r"\byell\w*",
        r"\bshout\w*",
        r"\bscream\w*",
        r"\bsay things i (?:don'?t mean|regret)\b",
        r"\bregret\w*",
        r"\btemper\b",
        r"\bsee red\b",
        r"\blose it\b",
        r"\bso angry\b",
        r"\boverwhelm\w*",
        r"\bfreeze\b",
        r"\bfroze\b",
        r"\bhot\b",
        r"\brage\b",
        r"\bgrit\w*\b",
        r"\bchest (?:tight|tightens)\b",
        r"\bgrit my teeth\b",
    ],
    "drift-apart": [
        r"\broommates?\b",
        r"\blonel\w*",
        r"\balone\b",
        r"\bgrown? apart\b",
        r"\bgrowing apart\b",
        r"\bdrift\w*",
        r"\bdisconnect\w*",
        r"\bpassing ships\b",
        r"\bparallel lives\b",
        r"\bspark\b",
        r"\bnot close\b",
        r"\bdistant\b",
        r"\bjust (?:logistics|co-?parents|schedules)\b",
        r"\bno (?:time|date nights?)\b",
        r"\bmiss (?:us|him|her|them|who we were)\b",
        r"\bsoledad\b|\bsolitude\b|\beinsam\w*|\bsolid\w*|\bcompaneros de piso\b|\bcolocataires\b|\bmitbewohner\b",
    ],
}
_CUES_COMPILED = {theme: [re.compile(p) for p in patterns] for theme, patterns in _CUES.items()}

_ROLES = (
    ("mother-in-law", r"mother-in-law|suegra|belle-mere|schwiegermutter|sogra"),
    ("father-in-law", r"father-in-law|suegro|beau-pere|schwiegervater|sogro"),
    ("husband", r"husband|hubby|marido|esposo|mari|ehemann|mann"),
    ("wife", r"wife|esposa|mujer|femme|ehefrau|frau|mulher"),
    ("boyfriend", r"boyfriend|bf|novio|copain|petit ami|freund|namorado"),
    ("girlfriend", r"girlfriend|gf|novia|copine|petite amie|freundin|namorada"),
    ("fiancé", r"fiance|fiancee|prometid[oa]"),
    ("partner", r"partner|partnerin|pareja|partenaire|companheir[oa]|spouse|significant other"),
    ("son", r"son|hijo|fils|sohn|filho"),
    ("daughter", r"daughter|hija|fille|tochter|filha"),
    ("mother", r"mother|mom|mum|madre|mere|mutter|mama|mae"),
    ("father", r"father|dad|padre|pere|vater|papa|pai"),
    ("sister", r"sister|hermana|soeur|schwester|irma"),
    ("brother", r"brother|hermano|frere|bruder|irmao"),
    ("friend", r"best friend|friend|amig[oa]|ami|amie"),
    ("parent", r"parents|padres|parents|eltern|pais"),
    ("child", r"kids|children|toddler|teenager|teen|baby|hijos|enfants|kinder|filhos"),
)
"""The other person's role, most specific first, as "my …" is written in each language."""
_POSSESSIVE = (
    r"\b(?:my|mi|mis|mon|ma|mes|mein|meine|meinem|meiner|meinen|meu|minha|meus)\s+(?:(?:teenage|teen|grown|adult|little|older|"
    r"younger|elderly|new|eldest|youngest|\d+-year-old|\w+-year-old)\s+)?(?:"
)
_ROLE_PATTERNS = [(role, re.compile(_POSSESSIVE + alternatives + r")\b")) for role, alternatives in _ROLES]
_WHEN = re.compile(r"\b(?:when|whenever|every time|each time|as soon as|after)\b\s+([^.,;:!?\n]{4,90})", re.I)
_MAIN_CLAUSE = re.compile(r"\s(?:i|i'm|im|i've|i'd|i'll|it|that|and|but|so|then|because|or)\s", re.I)
_DANGLING = re.compile(
    r"\b(?:who|that|which|the|a|an|to|of|and|with|about|my|your|his|her|their|our|for|in|on|at|is|are)$", re.I
)
_FLIP = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "im": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
    "am": "are",
    "we": "you",
    "us": "you both",
    "our": "your",
    "ours": "yours",
    "ourselves": "yourselves",
    "we're": "you're",
    "we've": "you've",
}
SECOND_THEME = 0.6
"""A second theme joins the first when its share of the votes is at least this part of the first's."""
_ENGLISH = re.compile(r"\b(?:the|and|i|my|he|she|we|to|is|when|of|it|that)\b")
_DANGER_WORDS = re.compile(r"\b(?:kill|die|dead|hurt|hit|drunk|high|pills?|blood|knife|gun)\w*")


@dataclass(frozen=True, kw_only=True)
class Understanding:
    """What a description was understood to be about. Holds no text of the description but ``moment``."""

    themes: tuple[tuple[str, float], ...]
    """Every theme with its confidence, most likely first: shares of the two readers' votes, summing to 1."""
    chosen: tuple[str, ...]
    """The one or two themes the session works with."""
    situation: str | None
    """A situation id from ``situations.toml``, or None."""
    other: str | None
    """The other person's role ("husband", "daughter"), or None."""
    moment: str | None
    """The person's own "when …" clause in the second person ("when he goes quiet after a fight"), if one could
    be said back safely: at most 12 words, English, no names, no danger words."""
    language: str
    """'en' where the description reads as English, else 'other' (the voices are English; a moment is not taken)."""
    overridden: bool = False
    """The themes came from --theme, not from the description."""

    def explain(self) -> list[str]:
        lines = [
            "themes: " + ", ".join(f"{THEMES[t]} {c:.2f}" for t, c in self.themes[:4]),
            "chosen: " + ", ".join(THEMES[t] for t in self.chosen) + (" (from --theme)" if self.overridden else ""),
        ]
        lines.append(f"situation: {self.situation or 'none named'}")
        lines.append(f"the other person: {self.other or 'not named (your partner)'}")
        lines.append("moment said back: " + (f'"{self.moment}"' if self.moment else "none (a written line is used)"))
        return lines


def situation_of(plain: str) -> str | None:
    """The situation the description names most often (ties: the first in ``situations.toml``)."""
    table = read_toml(data_file("situations.toml"))
    counts = []
    for order, (key, entry) in enumerate(table.items()):
        hits = sum(len(re.findall(p, plain)) for p in entry.get("patterns", []))
        if hits:
            counts.append((-hits, order, key))
    return min(counts)[2] if counts else None


def other_of(plain: str) -> str | None:
    """The role of the person the description names first ("my husband"), or only a pronoun's "partner"."""
    found = [(match.start(), role) for role, pattern in _ROLE_PATTERNS if (match := pattern.search(plain))]
    if found:
        return min(found)[1]
    together = (
        r"\b(?:he|him|his|she|her|hers|we|us|our|we'?re|nos|nous|wir|uns|a gente|compagnon|compagne|companer[oa])\b"
    )
    return "partner" if re.search(together, plain) else None


def moment_of(text: str) -> str | None:
    """The person's first "when …" clause, in the second person, cut where their main clause starts."""
    for match in _WHEN.finditer(text):
        clause = match.group(0)
        cut = _MAIN_CLAUSE.search(clause, len(match.group(0).split()[0]) + 3)
        clause = clause[: cut.start()] if cut else clause
        words = clause.split()
        if not 4 <= len(words) <= 12 or _DANGLING.search(clause.strip()):
            continue  # too short to mean anything, too long to say back, or cut mid-phrase
        if any(w[0].isupper() and w.lower() not in ("i", "i'm", "i've", "i'd", "i'll") for w in words[1:]):
            continue  # a name, or a place: not ours to say back
        if re.search(r"\d", clause) or _DANGER_WORDS.search(clause.lower()):
            continue
        flipped = " ".join(_FLIP.get(w.lower().replace("’", "'"), w) for w in words)
        flipped = re.sub(r"\byou (was)\b", "you were", flipped)
        return flipped[0].lower() + flipped[1:]
    return None


def understand_description(text: str, cache_dir: Path | None = None, themes: tuple[str, ...] = ()) -> Understanding:
    """Map a (screened) description to themes, a situation, the other person and a moment."""
    plain = normalise(text)
    cue_scores = np.array([sum(bool(p.search(plain)) for p in _CUES_COMPILED[t]) for t in THEMES], dtype=float)
    try:
        examples = labelled_vectors(EXAMPLES, cache_dir)
        near = examples.scores(embed([text])[0])
        embedding = np.array([near[t][0] for t in THEMES])
    except ConfigError:
        embedding = np.zeros(len(THEMES))
    # The embedding's similarities sit within a few hundredths of each other: spread them so they can vote
    spread = np.exp((embedding - embedding.max()) / 0.01) if embedding.any() else np.zeros(len(THEMES))
    spread = spread / spread.sum() if spread.any() else spread
    cues = cue_scores / cue_scores.sum() if cue_scores.sum() else np.zeros(len(THEMES))
    votes = 0.5 * spread + 0.5 * cues if cues.any() and spread.any() else spread if spread.any() else cues
    if not votes.any():
        votes = np.full(len(THEMES), 1 / len(THEMES))
    ranked = sorted(zip(THEMES, (round(float(v), 3) for v in votes)), key=lambda item: -item[1])
    if themes:
        chosen = tuple(themes)
    else:
        second = ranked[1][1] >= max(SECOND_THEME * ranked[0][1], 0.2)
        chosen = tuple([ranked[0][0]] + ([ranked[1][0]] if second else []))
    english = len(_ENGLISH.findall(plain)) >= max(2, len(plain.split()) // 8)
    return Understanding(
        themes=tuple(ranked),
        chosen=chosen,
        situation=situation_of(plain),
        other=other_of(plain),
        moment=moment_of(text) if english else None,
        language="en" if english else "other",
        overridden=bool(themes),
    )
