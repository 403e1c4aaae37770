"""The studio's two folders: the scripts it may read and write, and the output folder it shows and renders into.

Every path a page names is resolved here and must land inside its folder (no ``..``, no link that leads out, no
hidden file); a save is atomic and never overwrites an edit made elsewhere since the page read the file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, Source
from ..files import atomic_path
from ..library.build import LIBRARY_NAME
from ..manifest import Manifest
from ..script import SCRIPT_SUFFIXES
from .lint import COPY_SUFFIX

DRAFTS = "drafts"
"""Where drafted sessions are written, inside the scripts folder (as ``drift draft`` writes scripts/drafts)."""
PLAYABLE = ("mp3", "m4a", "ogg", "opus", "flac", "wav")
"""The format a track's play button uses: the first of these it has."""


class Refused(ConfigError):
    """A request the studio will not carry out (a path outside its folder, a file changed elsewhere)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message, None)
        self.status = status


class Conflict(Refused):
    """The file changed on disk since the page read it: the person decides."""

    def __init__(self, current_sha256: str):
        super().__init__("this file was changed elsewhere since you opened it", 409)
        self.current_sha256 = current_sha256


@dataclass(frozen=True)
class Workspace:
    folder: Path
    """The scripts: every script the studio opens, saves or renders is inside it."""
    out_dir: Path
    """Where tracks, previews and library.json go (``drift render -o``)."""

    @classmethod
    def at(cls, folder: Path, out_dir: Path) -> Workspace:
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError("no such folder", Source(str(folder)))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        for left in folder.rglob(f".*{COPY_SUFFIX}"):  # a copy lint was reading when a studio was killed
            left.unlink(missing_ok=True)
        return cls(folder.resolve(), Path(out_dir).resolve())

    # --- paths ---------------------------------------------------------------------------------------

    def script(self, relative: str) -> Path:
        """A script named by its path inside the folder; anything else is refused."""
        path = confined(self.folder, relative)
        if path.suffix not in SCRIPT_SUFFIXES:
            raise Refused(f"'{relative}' is not a script ({', '.join(SCRIPT_SUFFIXES)})")
        return path

    def output(self, relative: str) -> Path:
        """A file in the output folder (a track's file, a preview's page or stem, feed.xml)."""
        path = confined(self.out_dir, relative)
        if not path.is_file():
            raise Refused(f"no file '{relative}' in the output folder", 404)
        return path

    def relative(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.folder).as_posix()

    def scripts(self) -> list[str]:
        """Every script in the folder (drafts included), as paths inside it; hidden files left out."""
        found = [
            p
            for p in self.folder.rglob("*")
            if p.suffix in SCRIPT_SUFFIXES
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(self.folder).parts)
        ]
        return sorted(self.relative(p) for p in found)

    # --- reading and saving ------------------------------------------------------------------------

    def read(self, relative: str) -> tuple[str, str]:
        """A script's text and the SHA-256 of its bytes (what a save compares)."""
        path = self.script(relative)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise Refused(f"no script '{relative}'", 404) from None
        try:
            return data.decode("utf-8-sig"), _sha256(data)
        except UnicodeDecodeError:
            raise Refused(f"'{relative}' is not UTF-8 text: open it in an editor that can convert it") from None

    def save(self, relative: str, text: str, base_sha256: str | None) -> str:
        """Write ``text`` over the script atomically, if it is still the file the page read (``base_sha256``; None:
        a new file, which must not exist yet). Returns the new SHA-256."""
        path = self.script(relative)
        current = _sha256(path.read_bytes()) if path.is_file() else None
        if current != base_sha256:
            raise Conflict(current or "")
        data = text.encode("utf-8")
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return _sha256(data)

    # --- the output folder ----------------------------------------------------------------------------

    def library(self) -> dict:
        """The output folder's tracks as library.json lists them, with what the page shows of each."""
        try:
            listed = json.loads((self.out_dir / LIBRARY_NAME).read_text(encoding="utf-8")).get("tracks", {})
        except (OSError, ValueError, AttributeError):
            listed = {}
        tracks = []
        for name, entry in sorted(listed.items()):
            manifest = Manifest.find(self.out_dir / f"{name}.json")
            files = [f for f in entry.get("files", []) if (self.out_dir / f).is_file()]
            play = next((f for fmt in PLAYABLE for f in files if f == f"{name}.{fmt}"), None)
            tracks.append(
                {
                    "name": name,
                    "title": entry.get("title", name),
                    "qc": entry.get("qc", "unchecked"),
                    "duration_s": entry.get("duration_s"),
                    "loudness": entry.get("loudness", {}),
                    "voice": manifest.voice if manifest else None,
                    "voices": list(manifest.voices) if manifest else [],
                    "ambience": manifest.ambience if manifest else None,
                    "draft": bool(manifest and manifest.draft),
                    "files": files + ([f"{name}.json"] if manifest else []),
                    "play": play,
                    "script": entry.get("script"),
                }
            )
        return {"tracks": tracks, "feed": "feed.xml" if (self.out_dir / "feed.xml").is_file() else None}


def confined(root: Path, relative: str) -> Path:
    """``root/relative`` resolved (links followed), refused unless it stays inside ``root`` and names no hidden file."""
    if not isinstance(relative, str) or not relative or "\0" in relative or len(relative) > 1000:
        raise Refused("a path inside the folder is needed")
    if Path(relative).is_absolute() or any(part.startswith(".") for part in Path(relative).parts):
        raise Refused(f"'{relative}' is outside the folder", 403)
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise Refused(f"'{relative}' is outside the folder", 403)
    return path


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
