"""The package's layers: imports run one way, down from the interface to the data."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "charrnn"
# a layer may import its own modules and those of lower layers; training and decoding are
# side by side and never import each other; insight reads the decoder; the API composes
# decoding and insight; export takes a LanguageModel elsewhere; the interface sits on top
LAYERS = {"data": 1, "model": 2, "training": 3, "decoding": 3, "insight": 4, "api": 5,
          "export": 6, "interface": 7}
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


ROOT = PACKAGE.parent
# Private names of other packages that the code relies on knowingly: torch's fused
# optimiser helper and oneDNN's packed linear ops (the decoding floor), each checked at
# first use with a fallback; torch's maker of a quantised tensor from given integers
# (the int8 quantiser's own, `matmul_routes.int8_rows`; a build without it is refused
# int8 weights in one line); and the standard library's CodecInfo flag, the one way to
# tell a text encoding from a bytes-to-bytes codec.
FOREIGN_PRIVATE = {"_foreach_lerp_", "_reorder_linear_weight", "_linear_pointwise",
                   "_make_per_channel_quantized_tensor", "_is_text_encoding"}


def _own_names(tree: ast.AST) -> set[str]:
    """Names a module defines itself: functions, classes, assigned names and
    attributes (what its own leading underscores may refer to)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def private_reach_throughs(path: Path) -> list[str]:
    """Uses of another module's private names: `x._name` where this module defines no
    `_name`, and `from m import _name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _own_names(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [f"from {node.module} import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__") and node.attr not in own \
                and node.attr not in FOREIGN_PRIVATE:
            found.append(f"line {node.lineno}: .{node.attr}")
    return [f"{path.relative_to(ROOT)} {f}" for f in found]


def test_no_module_uses_another_modules_private_names():
    """A leading underscore means "only this module": the package and the benchmarks
    reach each other through public names only."""
    paths = [*PACKAGE.rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    found = [f for path in paths for f in private_reach_throughs(path)]
    assert not found, found


def test_the_package_has_no_import_circle():
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        graph[module] = {t for t in imports_of(path) if t != module}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for target in graph.get(start, ()):
            if target == goal:
                return True
            if target not in seen:
                seen.add(target)
                if reaches(target, goal, seen):
                    return True
        return False

    circles = sorted(m for m in graph
                     if m.count(".") > 1 and reaches(m, m, set()))  # sub-package modules
    assert not circles, circles


def test_what_a_text_is_is_decided_in_the_data_layer(repo_script):
    """Issue 37: the branches on labels, end symbols, documents and files outside the data
    layer (where `TextFormat` is) stay at most ten; each is listed by
    scripts/format_rules.py, which this reads."""
    rules = repo_script("scripts/format_rules.py")
    found = rules.format_conditions()
    assert len(found) <= 10, "\n".join(found)
    assert any("network.py" in place for place in found)  # it does find them
