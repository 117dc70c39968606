"""Package-level promises: the core stands without Streamlit, and the requirements name what is imported."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_and_runs_without_streamlit(tmp_path):
    code = (
        "import sys; sys.modules['streamlit'] = None\n"
        "import ttv_core, ttv_core.run.cli, ttv_core.data.hub, ttv_core.data.original_layout\n"
        f"ttv_core.make_demo({str(tmp_path / 'run')!r}, config=ttv_core.DemoConfig(epochs=1))\n"
        "assert 'streamlit' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_requirements_name_every_third_party_import():
    names = {"sklearn": "scikit-learn", "umap": "umap-learn", "PIL": "pillow", "huggingface_hub": "huggingface_hub"}
    required = {
        line.split("=")[0].split(">")[0].split("<")[0].strip().lower()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text()
    stdlib = set(sys.stdlib_module_names)
    for path in [*ROOT.glob("ttv_core/**/*.py"), *ROOT.glob("app_pages/*.py"), *ROOT.glob("app_support/*.py"), ROOT / "streamlit_app.py"]:
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in stdlib or top in {"ttv_core", "app_pages", "app_support"}:
                    continue
                assert names.get(top, top).lower() in required, f"{path.name} imports {top}, not in requirements.txt"


# The core's layers, lowest first: a module may import its own layer and those below it, never above.
LAYERS = {"(top)": 0, "data": 1, "fit": 2, "evaluate": 3, "explore": 4, "draw": 4, "run": 5, "app": 6}
SHARED = {"run.store"}  # the result store: every layer that memoizes a result uses it


def _imports_of(path: Path, package: list[str]) -> set[str]:
    """The ttv_core modules ``path`` imports, as "layer.module" (or "module" for top-level ones)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            names = [base + [alias.name] for alias in node.names] if not node.module else [base]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ttv_core"):
            names = [node.module.split(".")]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".") for alias in node.names if alias.name.startswith("ttv_core")]
        else:
            continue
        found |= {".".join(name[1:3]) for name in names if len(name) > 1}
    return found


def test_each_layer_imports_only_itself_and_the_layers_below():
    core = ROOT / "ttv_core"
    layers = {path.name for path in core.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    assert layers == set(LAYERS) - {"(top)"}, "a new layer needs a rank in LAYERS"
    upward = []
    for path in core.rglob("*.py"):
        relative = path.relative_to(core)
        if relative.parts in {("__init__.py",), ("__main__.py",)}:
            continue  # the package's front door re-exports from every layer
        layer = relative.parts[0] if len(relative.parts) > 1 else "(top)"
        for module in _imports_of(path, ["ttv_core", *relative.parts[:-1]]):
            target = module.split(".")[0] if module.split(".")[0] in LAYERS else "(top)"
            if module not in SHARED and LAYERS[target] > LAYERS[layer]:
                upward.append(f"{relative} imports {module}")
    assert not upward, upward


def test_no_core_module_grows_past_about_400_lines():
    long = {str(path.relative_to(ROOT)): n for path in (ROOT / "ttv_core").rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 420}
    assert not long, f"split these by what they do: {long}"
