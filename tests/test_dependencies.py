"""Dependencies point one way (docs/architecture.md): every part of espline imports only the
parts of its column (the register map none, the host side never the simulation side)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: what each part may import of espline, besides itself
ALLOWED = {
    "regmap": set(),
    "config": {"regmap"},
    "gateware": {"regmap"},
    "host": {"regmap", "config", "gateware"},
    "sim": {"regmap", "config", "gateware", "host", "hw"},
    "hw": {"regmap", "gateware"},
}


def imported_parts(path: Path, part: str) -> set[str]:
    """The parts of espline that the module at `path` (in folder `part`) imports."""
    package = ["espline", part, *path.relative_to(ROOT / part).parent.parts]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names = [".".join(base + ([node.module] if node.module else []))]
        else:
            continue
        found |= {name.split(".")[1] for name in names if name.startswith("espline.") and name.count(".") >= 1}
    return found - {part}


def test_every_part_has_its_column():
    parts = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert parts == set(ALLOWED)


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_imports_point_one_way(part):
    wrong = {str(path.relative_to(ROOT)): sorted(parts - ALLOWED[part])
             for path in sorted((ROOT / part).rglob("*.py"))
             if (parts := imported_parts(path, part)) - ALLOWED[part]}
    assert not wrong, f"{part} imports what it may not: {wrong}"


def test_the_check_sees_relative_and_absolute_imports(tmp_path, monkeypatch):
    """The scan itself: a relative import that leaves the package and an absolute one both count."""
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    module = tmp_path / "gateware" / "esp" / "x.py"
    module.parent.mkdir(parents=True)
    module.write_text("from ...host import driver\nimport espline.sim.model\nfrom ...regmap import compile\n"
                      "from .. import packet\nfrom . import parser\n")
    assert imported_parts(module, "gateware") == {"host", "sim", "regmap"}
