"""Reading a script file: its text decoded, then the front end its suffix names."""

from __future__ import annotations

import codecs
import difflib
import re
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError, ScriptError, ScriptWarning, Source
from .model import Script, ScriptErrors
from .plain import parse_text
from .ssml import parse_ssml

SCRIPT_SUFFIXES = (".txt", ".ssml")
_FRONT_ENDS = {".txt": parse_text, ".ssml": parse_ssml}


def discover(paths: list[Path]) -> list[Path]:
    """Script files named directly or found (recursively) in the folders given."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            scripts = sorted(p for p in path.rglob("*") if p.suffix in SCRIPT_SUFFIXES and p.is_file())
            if not scripts:
                raise ConfigError(f"no scripts ({', '.join(SCRIPT_SUFFIXES)}) in this folder", Source(str(path)))
            found += scripts
        elif path.is_file():
            found.append(path)
        else:
            raise ConfigError("no such script or folder", Source(str(path)))
    return list(dict.fromkeys(found))


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([\w.:-]+)["']""")


def parse_file(path: str | Path, variables: dict[str, str] | None = None, defaults: dict | None = None) -> Script:
    """A script file read and parsed; ``defaults`` are front-matter settings for keys the file does not set."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ScriptError("no such script", Source(str(path))) from None
    except OSError as exc:
        raise ScriptError(f"cannot read script: {exc.strerror}", Source(str(path))) from None
    encoding = _encoding(data, path.suffix)
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        where = f"byte {exc.start}" if isinstance(exc, UnicodeDecodeError) else "an encoding Python does not know"
        raise ScriptError(f"script is not {encoding} text ({where})", Source(str(path))) from None
    if path.suffix == ".ssml":  # the text is decoded now: the declaration must not make the parser decode it again
        text = re.sub(r"""^(<\?xml[^>]*?encoding\s*=\s*)["'][\w.:-]+["']""", r'\1"UTF-8"', text.lstrip("\ufeff"))
    text, repairs = repair_double_encoding(text, str(path))
    try:
        script = _FRONT_ENDS.get(path.suffix, parse_text)(text, str(path), variables, defaults)
    except ScriptErrors as errors:
        raise ScriptErrors([*repairs, *errors.errors], errors.meta, errors.script) from None  # the repairs explain some
    return replace(script, warnings=(*repairs, *script.warnings))


def repair_double_encoding(text: str, path: str) -> tuple[str, list[ScriptWarning]]:
    """Lines that were UTF-8 read as Latin-1 or Windows-1252 somewhere before us ("â€”" for "—"), repaired by
    ftfy (which undoes exactly that, and nothing else here), each repair reported with what it changed."""
    if text.isascii():
        return text, []  # nothing to repair: mojibake is made of non-ASCII characters (and ftfy is slow to import)
    import ftfy

    lines, warnings = text.split("\n"), []
    for number, line in enumerate(lines, start=1):
        repaired = ftfy.fix_encoding(line)
        if repaired != line:
            _, a, b, c, d = next(
                op for op in difflib.SequenceMatcher(None, line, repaired).get_opcodes() if op[0] != "equal"
            )
            warnings.append(
                ScriptWarning(
                    f"text looked double-encoded (UTF-8 read as Latin-1) and was repaired: "
                    f"{line[a:b]!r} → {repaired[c:d]!r}",
                    Source(path, number, a + 1),
                )
            )
            lines[number - 1] = repaired
    return "\n".join(lines), warnings


def _encoding(data: bytes, suffix: str) -> str:
    """A byte-order mark decides; for SSML, then its XML declaration; else UTF-8."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    declared = _XML_ENCODING.match(data) if suffix == ".ssml" else None
    return declared.group(1).decode("ascii").lower() if declared else "utf-8"
