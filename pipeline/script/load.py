"""Reading a script file: its text decoded, then the front end its suffix names."""

from __future__ import annotations

from pathlib import Path

from ..errors import ScriptError, Source
from .model import Script
from .plain import parse_text
from .ssml import parse_ssml

SCRIPT_SUFFIXES = (".txt", ".ssml")
_FRONT_ENDS = {".txt": parse_text, ".ssml": parse_ssml}


def parse_file(path: str | Path, variables: dict[str, str] | None = None) -> Script:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScriptError("no such script", Source(str(path))) from None
    except UnicodeDecodeError as exc:
        raise ScriptError(f"script is not UTF-8 text (byte {exc.start})", Source(str(path))) from None
    except OSError as exc:
        raise ScriptError(f"cannot read script: {exc.strerror}", Source(str(path))) from None
    return _FRONT_ENDS.get(path.suffix, parse_text)(text, str(path), variables)
