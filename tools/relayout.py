#!/usr/bin/env python3
"""Folders that are the layers (issue 22, item 1): move the packages and rewrite every reference.

    python tools/relayout.py            # from the repository's root, on a clean work tree
    python tools/relayout.py --graph    # only print the import graph of the tree as it is

The move (docs/architecture.md):

    clinic/{settings,urls,celery,wsgi,...}.py  -> config/         the project's wiring
    clinic/__init__.py (the release)           -> config/__init__.py
    clinic/api/                                -> api/
    clinic/demo/                               -> demo/
    clinic/core/*                              -> clinic/*        app label `clinic` unchanged
    monitoring/rules/                          -> rules/          pure, imports no Django

It is re-runnable: other branches are still merged into main, so the lead runs it on the final
main. Run twice, the second run finds `clinic/core/` gone and `config/settings.py` present and
does nothing. Standard library only; it calls `git mv` (history follows the files) and, when
present, `.venv/bin/ruff` to sort the imports the rewrite moved and to format.

Every rewrite is one of the explicit rules below, applied in one pass per file so a rewritten
name is never rewritten again (`clinic.core.context_processors` becomes
`clinic.context_processors`, which is not then taken for the wiring's module of that name).
"""

import ast
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The wiring: today's top-level modules of clinic/ that are not the clinic app.
WIRING = (
    "settings_test",
    "settings",
    "urls",
    "celery",
    "wsgi",
    "beat",
    "health",
    "deploy_checks",
    "observability",
    "error_reports",
    "context_processors",
)
# Names `from clinic import ...` may take from the wiring's package.
WIRING_NAMES = set(WIRING) | {"__version__", "celery_app"}

# --- The moves ---------------------------------------------------------------------------------


def git(*args: str, capture: bool = False) -> str:
    result = subprocess.run(  # noqa: S603 - git with this script's own arguments
        ["git", *args],  # noqa: S607 - the git on PATH, as a developer runs it
        cwd=ROOT,
        check=True,
        text=True,
        capture_output=capture,
    )
    return result.stdout if capture else ""


def tracked(path: str) -> bool:
    return bool(git("ls-files", "--", path, capture=True).strip())


def move(source: str, target: str) -> None:
    if not (ROOT / source).exists():
        print(f"  (no {source})")
        return
    (ROOT / target).parent.mkdir(parents=True, exist_ok=True)
    git("mv", source, target)
    print(f"  {source} -> {target}")


def do_moves() -> None:
    print("Moving:")
    (ROOT / "config").mkdir(exist_ok=True)
    for name in WIRING:
        move(f"clinic/{name}.py", f"config/{name}.py")
    move("clinic/__init__.py", "config/__init__.py")
    move("clinic/api", "api")
    move("clinic/demo", "demo")
    move("monitoring/rules", "rules")
    for entry in sorted((ROOT / "clinic" / "core").iterdir()):
        if entry.name == "__pycache__":
            continue
        if not tracked(f"clinic/core/{entry.name}"):
            continue
        move(f"clinic/core/{entry.name}", f"clinic/{entry.name}")
    leftover = [p for p in (ROOT / "clinic" / "core").rglob("*") if "__pycache__" not in p.parts]
    if not any(p.is_file() for p in leftover):
        shutil.rmtree(ROOT / "clinic" / "core")
    else:
        print(f"  left in clinic/core/ (untracked): {[str(p) for p in leftover]}")


# --- The rewrites ------------------------------------------------------------------------------

# One alternation, so each place is rewritten once. `(?<![\w-])` keeps `ipledge-clinic.x` and
# `my_clinic.urls` out; the module names end on a word boundary.
_MODULE = re.compile(
    r"(?<![\w-])(?:"
    r"(?P<clinic>clinic)(?P<sep>[./])(?P<mod>core|api|demo|" + "|".join(WIRING) + r")\b"
    r"|(?P<rules>monitoring[./]rules)\b"
    r")"
)


def _module(match: re.Match) -> str:
    if match.group("rules"):
        return "rules"
    mod, sep = match.group("mod"), match.group("sep")
    if mod == "core":
        return "clinic"  # the separator after `core` stays: clinic.core.models -> clinic.models
    if mod in ("api", "demo"):
        return mod
    return f"config{sep}{mod}"


# `from clinic import __version__, health` names the wiring's package.
_FROM_CLINIC = re.compile(r"^(\s*)from clinic import ([\w, ]+?)(\s*(?:#.*)?)$", re.M)


def _from_clinic(match: re.Match) -> str:
    names = [n.strip().split(" as ")[0] for n in match.group(2).split(",")]
    if all(n in WIRING_NAMES for n in names):
        return f"{match.group(1)}from config import {match.group(2)}{match.group(3)}"
    return match.group(0)


# `from monitoring import codes, rules, worklist`: rules is now a package of its own.
_FROM_MONITORING = re.compile(r"^(\s*)from monitoring import ([\w, ]+?)(\s*(?:#.*)?)$", re.M)


def _from_monitoring(match: re.Match) -> str:
    indent, names, tail = match.group(1), [n.strip() for n in match.group(2).split(",")], match[3]
    if "rules" not in names:
        return match.group(0)
    rest = [n for n in names if n != "rules"]
    lines = [f"{indent}import rules{tail}"]
    if rest:
        lines.append(f"{indent}from monitoring import {', '.join(rest)}")
    return "\n".join(lines)


def rewrite_relative_wiring(text: str, path: Path) -> str:
    """The wiring named the apps beside it relatively (`from .core import views` in urls.py):
    they are now packages of their own."""
    if path.parts[0] != "config" or path.suffix != ".py":
        return text
    text = re.sub(r"^(\s*)from \.core import", r"\1from clinic import", text, flags=re.M)
    text = re.sub(r"^(\s*)from \.core\.", r"\1from clinic.", text, flags=re.M)
    return re.sub(r"^(\s*)from \.(api|demo)\b", r"\1from \2", text, flags=re.M)


def rewrite_relative_rules(text: str, path: Path) -> str:
    """Inside monitoring, `from . import codes, rules` and `from .rules import x` named the
    engine relatively; it is now the top-level package `rules`."""
    if path.parts[0] != "monitoring" or path.suffix != ".py":
        return text
    dots = re.escape("." * (len(path.parts) - 1))
    text = re.sub(rf"^(\s*)from {dots}rules\b", r"\1from rules", text, flags=re.M)
    relative = re.compile(rf"^(\s*)from {dots} import ([\w, ]+?)(\s*(?:#.*)?)$", re.M)

    def split(match: re.Match) -> str:
        indent, names, tail = match.group(1), [n.strip() for n in match[2].split(",")], match[3]
        if "rules" not in names:
            return match.group(0)
        rest = [n for n in names if n != "rules"]
        lines = [f"{indent}import rules{tail}"]
        if rest:
            lines.append(f"{indent}from {'.' * (len(path.parts) - 1)} import {', '.join(rest)}")
        return "\n".join(lines)

    return relative.sub(split, text)


# Celery's app: `celery -A clinic`, `--app clinic`, `--app=clinic`, `[..., "-A", "clinic", ...]`.
_CELERY_APP = re.compile(r"(-A |--app[ =]|\"-A\",\s*\")clinic\b(?![./\w])")

# Lists of the project's folders (not of app labels: tests/clinic/test_text_fields.py keeps its
# labels), each named by its file: the new packages are code to scan too.
ALL_PACKAGES = '"config", "api", "demo", "clinic", "patients", "monitoring", "rules"'
FOLDER_LISTS = {
    "tests/monitoring/test_us_dates.py": [
        ('("clinic", "patients", "monitoring")', f"({ALL_PACKAGES})"),
    ],
    "tests/reminders/test_spanish.py": [
        ('("clinic", "patients", "monitoring", "templates")', f'({ALL_PACKAGES}, "templates")'),
    ],
    "tests/clinic/test_deploy_files.py": [
        (
            '        *ROOT.glob("clinic/**/*.py"),\n',
            "".join(
                f'        *ROOT.glob("{p}/**/*.py"),\n' for p in ("config", "api", "demo", "clinic")
            ),
        ),
        (
            '        *ROOT.glob("monitoring/**/*.py"),\n',
            '        *ROOT.glob("monitoring/**/*.py"),\n        *ROOT.glob("rules/**/*.py"),\n',
        ),
    ],
    "Makefile": [
        ("-r clinic patients monitoring ", "-r config api demo clinic patients monitoring rules "),
    ],
}


def rewrite_folder_lists(text: str, path: Path) -> str:
    for old, new in FOLDER_LISTS.get(path.as_posix(), []):
        if old not in text:
            print(f"  {path}: {old.strip()!r} not found (check it by hand)")
        text = text.replace(old, new)
    return text


def rewrite_text(text: str, *, python: bool) -> str:
    text = _CELERY_APP.sub(r"\1config", text)
    if python:
        text = _FROM_CLINIC.sub(_from_clinic, text)
        text = _FROM_MONITORING.sub(_from_monitoring, text)
        if "clinic.__version__" in text:  # tests/clinic/test_release.py: `import clinic`
            text = re.sub(r"^import clinic$", "import config", text, flags=re.M)
            text = text.replace("Path(clinic.__file__)", "Path(config.__file__)")
    text = text.replace("clinic.__version__", "config.__version__")
    return _MODULE.sub(_module, text)


# The static files' comments name the modules they serve (clinic/core/session_guard.py).
TEXT_SUFFIXES = (".py", ".html", ".txt", ".md", ".toml", ".cfg", ".ini", ".po", ".js", ".css")
TEXT_SUFFIXES += (".yaml", ".yml", ".sh", ".conf", ".service", ".example")


def files_to_rewrite() -> list[Path]:
    listed = git("ls-files", capture=True).splitlines()
    wanted = []
    for name in listed:
        path = Path(name)
        if name in ("tools/relayout.py", "CHANGELOG.md"):
            continue
        if not (ROOT / path).is_file():
            continue
        if path.suffix in TEXT_SUFFIXES:
            wanted.append(path)
        elif name in ("Makefile", "Procfile", ".ci/run") or path.parts[0] in (
            "deploy",
            "ops",
            "bench",
            "docs",
        ):
            if path.suffix not in (".png", ".jpg", ".gz", ".pyc"):
                wanted.append(path)
    return wanted


def rewrite_changelog() -> None:
    """History lines keep the names of their day; only the header's pointer to the release
    moves."""
    path = ROOT / "CHANGELOG.md"
    text = path.read_text()
    new = text.replace("(`clinic.__version__`)", "(`config.__version__`)", 1)
    if new != text:
        path.write_text(new)
        print("  CHANGELOG.md (the release's pointer only)")


def do_rewrites() -> list[Path]:
    print("Rewriting:")
    changed = []
    for path in files_to_rewrite():
        full = ROOT / path
        try:
            text = full.read_text()
        except UnicodeDecodeError:
            continue
        new = rewrite_folder_lists(text, path)
        new = rewrite_relative_wiring(rewrite_relative_rules(new, path), path)
        new = rewrite_text(new, python=path.suffix == ".py")
        if new != text:
            full.write_text(new)
            changed.append(path)
    print(f"  {len(changed)} files")
    rewrite_changelog()
    return changed


# --- pyproject.toml: the import contracts ------------------------------------------------------

CONTRACTS = """\
# The direction of imports (docs/architecture.md): a folder is a layer, each imports only the
# layers below it; the rules engine is pure domain code at the bottom, importing neither Django
# nor any part of the project, so every layer may read it.
[tool.importlinter]
root_packages = ["config", "api", "demo", "monitoring", "patients", "clinic", "rules"]
include_external_packages = true

[[tool.importlinter.contracts]]
name = "Layers: the wiring, the API and the demo, monitoring, patients, clinic, the rules"
type = "layers"
layers = ["config", "api : demo", "monitoring", "patients", "clinic", "rules"]

[[tool.importlinter.contracts]]
name = "The rules engine is pure: no Django, no ORM, no other part of the project"
type = "forbidden"
source_modules = ["rules"]
forbidden_modules = [
    "django",
    "rest_framework",
    "celery",
    "config",
    "api",
    "demo",
    "monitoring",
    "patients",
    "clinic",
]
"""


def rewrite_contracts() -> None:
    """Everything from `[tool.importlinter]` up to the Celery tasks' contract is replaced; that
    contract (the tasks wrap the reminders, the worklist and the kept rows) is kept as it is."""
    path = ROOT / "pyproject.toml"
    text = path.read_text()
    start = text.find("[tool.importlinter]")
    # The comment block just above [tool.importlinter] goes with it.
    head = text[:start].rstrip("\n").split("\n")
    while head and head[-1].startswith("#"):
        head.pop()
    tasks = re.search(
        r"(?:#[^\n]*\n)*\[\[tool\.importlinter\.contracts\]\]\n(?:#[^\n]*\n)*"
        r"name = \"Celery tasks",
        text[start:],
    )
    if start < 0 or tasks is None:
        print("  pyproject.toml: contracts not found, left alone (check them by hand)")
        return
    rest = text[start + tasks.start() :]
    path.write_text("\n".join(head) + "\n\n" + CONTRACTS + "\n" + rest)
    print("  pyproject.toml: one layers contract, the purity contract on `rules`")


# --- The import graph --------------------------------------------------------------------------

ORDER_BEFORE = ["clinic(top)", "monitoring", "patients", "clinic(base)", "monitoring.rules"]
ORDER_AFTER = ["config", "api", "demo", "monitoring", "patients", "clinic", "rules"]
RANK_AFTER = {
    "config": 0,
    "api": 1,
    "demo": 1,
    "monitoring": 2,
    "patients": 3,
    "clinic": 4,
    "rules": 5,
}


def layer_of(module: str, before: bool) -> str | None:
    parts = module.split(".")
    if before:
        if parts[0] == "clinic":
            return "clinic(base)" if parts[1:2] == ["core"] else "clinic(top)"
        if parts[0] == "monitoring":
            return "monitoring.rules" if parts[1:2] == ["rules"] else "monitoring"
        return "patients" if parts[0] == "patients" else None
    return parts[0] if parts[0] in RANK_AFTER else None


def import_graph(before: bool) -> dict[tuple[str, str], set[str]]:
    tops = ("clinic", "monitoring", "patients") if before else tuple(RANK_AFTER)
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if "migrations" in rel.parts:
                continue
            module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
            source = layer_of(module, before)
            if source is None:
                continue
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        up = package.split(".")[: len(package.split(".")) - node.level + 1]
                        base = ".".join(up + ([base] if base else []))
                    names = [f"{base}.{a.name}" for a in node.names]
                for name in names:
                    target = layer_of(name, before)
                    if target is not None and target != source:
                        edges[(source, target)].add(module)
    return edges


def print_graph(before: bool) -> None:
    order = ORDER_BEFORE if before else ORDER_AFTER
    # Before, the rules sat in monitoring's folder: patients and the core reading them imported
    # upward by folder, allowed only by the contract's ignore_imports.
    rank = {**{name: i for i, name in enumerate(order)}, "monitoring.rules": 1}
    rank = rank if before else RANK_AFTER
    edges = import_graph(before)
    print("Import graph, " + ("before" if before else "after") + " (modules importing across):")
    for source, target in sorted(edges, key=lambda e: (order.index(e[0]), order.index(e[1]))):
        modules = edges[(source, target)]
        upward = rank[target] < rank[source]
        note = "   UPWARD by folder: " + ", ".join(sorted(modules)) if upward else ""
        print(f"  {source:<14} -> {target:<16} {len(modules):>3} modules{note}")


# --- Main --------------------------------------------------------------------------------------


def already_done() -> bool:
    return not (ROOT / "clinic" / "core").exists() and (ROOT / "config" / "settings.py").exists()


def main(argv: list[str]) -> int:
    if "--graph" in argv:
        print_graph(before=not already_done())
        return 0
    if already_done():
        print("Already laid out (config/settings.py exists, clinic/core/ does not): nothing to do.")
        return 0
    if git("status", "--porcelain", "--untracked-files=no", capture=True).strip():
        print("The work tree has uncommitted changes: commit them first.", file=sys.stderr)
        return 1
    print_graph(before=True)
    do_moves()
    changed = do_rewrites()
    rewrite_contracts()
    ruff = ROOT / ".venv" / "bin" / "ruff"
    if ruff.exists():
        py = [str(p) for p in changed if p.suffix == ".py" and (ROOT / p).exists()]
        subprocess.run(  # noqa: S603 - the project's own ruff
            [str(ruff), "check", "--select", "I", "--fix", "-q", "--force-exclude", *py], cwd=ROOT
        )
        subprocess.run([str(ruff), "format", "-q", "--force-exclude", *py], cwd=ROOT)  # noqa: S603
    else:
        print("No .venv/bin/ruff: run `ruff check --select I --fix` and `ruff format` yourself.")
    print_graph(before=False)
    print("Done. Check: git status; lint-imports; manage.py check; makemigrations --check.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
