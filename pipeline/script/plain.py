"""The plain-text script format (docs/script-format.md): headings, text and ``[cues]``, line by line."""

from __future__ import annotations

import re

from ..errors import ScriptError, Source, did_you_mean
from .body import BodyBuilder
from .cues import CUES
from .front_matter import parse_front_matter
from .model import Script, Section

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def parse_text(
    text: str, path: str = "<script>", variables: dict[str, str] | None = None, defaults: dict | None = None
) -> Script:
    """Parse script text; raise ``ScriptErrors`` listing every problem found.

    ``variables`` (for example from ``--vars``) override the front matter's ``vars`` defaults.
    """
    errors: list[ScriptError] = []
    lines = text.splitlines()
    meta, body_start = parse_front_matter(lines, path, errors, defaults)
    body = _PlainReader(path, meta, variables, errors)
    for number in range(body_start, len(lines)):
        body.line(number + 1, lines[number])
    return body.script(Source(path, body_start + 1, 1))


class _PlainReader(BodyBuilder):
    """Reads the body line by line: comments, headings, text with cues between it."""

    def line(self, number: int, text: str) -> None:
        stripped = text.strip()
        if not stripped:
            self.add_break("paragraph", Source(self.path, number, 1))
        elif stripped.startswith("//"):
            return
        elif heading := _HEADING.match(stripped):
            self.flush()
            self.close_emphasis()
            col = text.index("#") + 1
            if not heading.group(2):
                self.error("a heading needs a name, for example '## Induction'", number, col)
            else:
                self.events.append(Section(heading.group(2), Source(self.path, number, col)))
        else:
            self._text_line(number, text)

    def _text_line(self, number: int, text: str) -> None:
        pos, first = 0, True
        while pos < len(text):
            open_at = text.find("[", pos)
            close_at = text.find("]", pos)
            if close_at != -1 and (open_at == -1 or close_at < open_at):
                self.error("']' without a matching '['", number, close_at + 1)
                text = text[:close_at] + " " + text[close_at + 1 :]
                continue
            end_of_text = len(text) if open_at == -1 else open_at
            self.add_text(text[pos:end_of_text], number, pos + 1, first)
            first = False
            if open_at == -1:
                return
            end = text.find("]", open_at)
            if end == -1:  # reported, and the rest of the line read as text: a later mistake on it is found too
                self.error("'[' starts a cue that is never closed with ']'", number, open_at + 1)
                text, pos = text[:open_at] + " " + text[open_at + 1 :], open_at
                continue
            self._cue(number, open_at, text[open_at + 1 : end])
            pos = end + 1

    def _cue(self, number: int, open_at: int, body: str) -> None:
        where = Source(self.path, number, open_at + 1)
        lead = len(body) - len(body.lstrip())
        name, _, args = body.strip().partition(" ")
        parser = CUES.get(name.lower())
        if parser is None:
            hint = did_you_mean(name.lower(), CUES) or f" (known cues: {', '.join(sorted(CUES))})"
            self.errors.append(ScriptError(f"unknown cue '[{body.strip()}]'{hint}", where))
            return
        stripped_args = args.strip()
        arg_col = (
            open_at + 2 + lead + len(name) + (len(args) - len(args.lstrip())) + 1 if stripped_args else open_at + 1
        )
        try:
            event = parser(stripped_args, where, Source(self.path, number, arg_col))
        except ScriptError as error:
            self.errors.append(error)
            return
        self.add_event(event)
