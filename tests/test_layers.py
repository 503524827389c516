"""The package's layers: imports run one way, down from the interface to the data."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "charrnn"
# a layer may import its own modules and those of lower layers; training and decoding
# are side by side and never import each other
LAYERS = {"data": 1, "model": 2, "training": 3, "decoding": 3, "interface": 4}
GROUND = {"config", "errors", "atomic", "units"}  # beside __init__: every layer may use them


def layer_of(module: str) -> tuple[str, int]:
    """('data', 1) for 'charrnn.data.cache'; ground-floor modules are layer 0."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1], LAYERS[parts[1]]
    return "ground", 0


def imports_of(path: Path) -> set[str]:
    """Every charrnn module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("charrnn"):
            found |= {f"{node.module}.{a.name}" if node.module in ("charrnn", *(
                f"charrnn.{layer}" for layer in LAYERS)) else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("charrnn")}
    return found


def test_no_module_imports_from_a_layer_above_it():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if path.name in ("__init__.py", "__main__.py") and path.parent == PACKAGE:
            continue  # the public API reaches every layer, lazily
        name, level = layer_of(module)
        for target in imports_of(path):
            other, other_level = layer_of(target)
            if other != name and other_level >= level:
                wrong.append(f"{module} imports {target}")
    assert not wrong, wrong


def test_the_ground_floor_imports_no_layer():
    for name in GROUND:
        targets = imports_of(PACKAGE / f"{name}.py")
        assert all(layer_of(t)[1] == 0 for t in targets), (name, targets)


def test_every_sub_package_opens_with_a_map_of_its_modules():
    for layer in LAYERS:
        doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
        modules = {p.name for p in (PACKAGE / layer).glob("*.py") if p.name != "__init__.py"}
        assert doc and all(m in doc for m in modules), (layer, modules)
        mapped = {w for w in doc.split() if w.endswith(".py")}
        assert mapped <= modules, (layer, mapped - modules)  # the map names no ghost


def test_no_function_is_longer_than_a_screen():
    """About 80 lines; a CLI command's list of option declarations is not counted."""
    long = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.body[0].lineno + 1
                if lines > 80:
                    long.append(f"{path.name}:{node.name} ({lines} lines)")
    assert not long, long
