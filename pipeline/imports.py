"""The package's own imports, read from its code with ``ast`` (nothing is imported to find them).

``imports`` says which of the package's modules a file imports, at the top or inside a function; ``closure``
follows them to every file that importing some modules can run. The architecture test checks the layers with
the first; the input hash covers the renderer's code with the second.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def module_name(path: Path, package: Path = PACKAGE) -> str:
    """``speech/engines.py`` → ``speech.engines``; a package's ``__init__.py`` is the package ("" at the top)."""
    parts = list(Path(path).relative_to(package).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_file(name: str, package: Path = PACKAGE) -> Path | None:
    """The file of the package's module ``name`` (``speech`` → ``speech/__init__.py``), or None if it has none."""
    base = package.joinpath(*name.split(".")) if name else package
    candidates = [base / "__init__.py"] + ([base.with_name(base.name + ".py")] if name else [])
    return next((path for path in candidates if path.is_file()), None)


def imports(path: Path, package: Path = PACKAGE) -> set[str]:
    """Every module of the package that ``path`` imports, at the top or inside a function: relative imports, and
    absolute ones that name the package. ``from .speech import voices`` is ``speech.voices``; ``from .speech import
    EDGE_PAD_S`` is ``speech``."""
    name = module_name(path, package)
    here = name.split(".") if name else []
    inside = here if Path(path).name == "__init__.py" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.partition(".")[2] for alias in node.names if alias.name.split(".")[0] == package.name}
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = inside[: len(inside) - node.level + 1]
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
        elif node.module and node.module.split(".")[0] == package.name:
            target = node.module.partition(".")[2]
        else:
            continue
        names = [f"{target}.{alias.name}" if target else alias.name for alias in node.names]
        found |= {n for n in names if module_file(n, package)} or {target}
    return {name for name in found if name}


def closure(roots: Iterable[str], package: Path = PACKAGE) -> list[Path]:
    """Every file of the package that importing the modules ``roots`` can run: what they import, directly, inside a
    function or through another module, and the ``__init__.py`` of every package on the way; sorted by path."""
    seen: set[str] = set()
    waiting = list(roots)
    while waiting:
        name = waiting.pop()
        if name in seen:
            continue
        path = module_file(name, package)
        if path is None:
            raise ValueError(f"{package.name}.{name}: no such module in {package}")
        seen.add(name)
        parts = name.split(".") if name else []
        waiting += [".".join(parts[:end]) for end in range(len(parts))]  # its packages' __init__.py run first
        waiting += sorted(imports(path, package))
    return sorted((module_file(name, package) for name in seen), key=lambda p: p.relative_to(package).as_posix())
