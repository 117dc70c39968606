"""Package-level promises: the core stands without Streamlit, and the requirements name what is imported."""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_and_runs_without_streamlit(tmp_path):
    code = (
        "import sys; sys.modules['streamlit'] = None\n"
        "import ttv_core, ttv_core.run.cli, ttv_core.data.hub, ttv_core.data.original_layout\n"
        f"ttv_core.make_demo({str(tmp_path / 'run')!r}, config=ttv_core.DemoConfig(epochs=1))\n"
        "assert 'streamlit' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


IMPORT_NAMES = {"sklearn": "scikit-learn", "umap": "umap-learn", "PIL": "pillow"}


def _names(requirements) -> set[str]:
    """Distribution names of requirement lines ("torch==2.13.0  # why" -> "torch")."""
    return {re.split(r"[=<>!~\[ ;@]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for line in requirements if line.strip() and not line.strip().startswith(("#", "-"))}


def _third_party_imports(paths) -> dict[str, str]:
    """Distribution name -> a file importing it, over ``paths``."""
    found = {}
    stdlib = set(sys.stdlib_module_names)
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for top in (module.split(".")[0] for module in modules):
                if top not in stdlib and top != "ttv_core":
                    found.setdefault(IMPORT_NAMES.get(top, top).lower().replace("_", "-"), str(path.relative_to(ROOT)))
    return found


def test_the_package_declares_what_it_imports_and_requirements_txt_agrees():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core, app = _names(project["dependencies"]), _names(project["optional-dependencies"]["app"])
    app_files = [*(ROOT / "ttv_core" / "app").rglob("*.py"), ROOT / "streamlit_app.py"]
    core_files = [path for path in (ROOT / "ttv_core").rglob("*.py") if path not in app_files]
    backends = set().union(*(_names(project["optional-dependencies"][extra]) for extra in ("dask", "ray")))
    for name, where in _third_party_imports(core_files).items():  # a cluster backend's extra, imported on use
        allowed = core | (backends if where == "ttv_core/run/fanout.py" else set())
        assert name in allowed, f"{where} imports {name}: add it to pyproject.toml's dependencies"
    for name, where in _third_party_imports(app_files).items():
        assert name in core | app, f"{where} imports {name}: add it to pyproject.toml's app extra"
    requirements = (ROOT / "requirements.txt").read_text()
    assert _names(requirements.splitlines()) == core | app, "requirements.txt = the core + the app extra"
    assert "torch==2.13.0" in requirements  # the CPU build this project tests with


def _wheel(tmp_path: Path) -> Path:
    """Build ttv's wheel from a copy of this checkout (setuptools builds in the source tree), offline: the
    installed setuptools, no build isolation."""
    pytest.importorskip("setuptools")
    source, out = tmp_path / "source", tmp_path / "dist"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "ttv_core", source / "ttv_core", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(out)], check=True, cwd=tmp_path)
    (wheel,) = out.glob("ttv-*.whl")
    return wheel


def test_the_wheel_holds_the_whole_package_and_works_from_any_folder(tmp_path):
    import zipfile

    import ttv_core

    wheel = _wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert wheel.name.startswith(f"ttv-{ttv_core.__version__}-")
    assert {name.split("/")[0] for name in names} == {"ttv_core", f"ttv-{ttv_core.__version__}.dist-info"}
    shipped = {path.relative_to(ROOT).as_posix() for path in (ROOT / "ttv_core").rglob("*")
               if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}
    assert shipped - set(names) == set(), "files of ttv_core missing from the wheel (package data?)"
    entry_points = zipfile.ZipFile(wheel).read(f"ttv-{ttv_core.__version__}.dist-info/entry_points.txt").decode()
    assert "ttv = ttv_core.run.cli:main" in entry_points

    # Unpacked beside nothing of this checkout: import, the command line, a map, and the dashboard.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "TTV_CACHE_DIR": str(tmp_path / "cache")}
    script = f"""
import runpy, sys
import ttv_core
assert ttv_core.__file__.startswith({str(site)!r}), ttv_core.__file__
from ttv_core.run.cli import main
assert main(["demo", "--out", "run", "--epochs", "2"]) == 0
assert main(["proxy", "run", "--epochs", "1:2", "--max-passes", "2", "--warm-max-passes", "2", "--resolution", "16",
             "--out", "maps"]) == 0
from streamlit.testing.v1 import AppTest
from ttv_core.app import page_path
at = AppTest.from_file(str(ttv_core.app.VIEWS.parent / "streamlit_app.py"), default_timeout=120)
at.query_params["run"] = "run"
at.run()
assert not at.exception, at.exception
at.switch_page(page_path("territories")).run()
assert not at.exception and not at.error, (at.exception, at.error)
"""
    subprocess.run([sys.executable, "-c", script], cwd=elsewhere, env=env, check=True, timeout=600)
    assert (elsewhere / "maps" / "epoch_2" / "embedding.npy").exists()


def test_the_ttv_command_is_installed():
    # pip puts console scripts beside the interpreter; PATH may not list that folder (pyenv shims, --user)
    command = shutil.which("ttv", path=str(Path(sys.executable).parent)) or shutil.which("ttv")
    if command is None:
        if os.environ.get("CI"):
            pytest.fail("no `ttv` command: the README's test command installs the package (pip install -e .)")
        pytest.skip("ttv is not installed here (pip install -e .)")
    out = subprocess.run([command, "--version"], capture_output=True, text=True, check=True, cwd="/")
    import ttv_core

    assert out.stdout.strip() == f"ttv {ttv_core.__version__}"


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
