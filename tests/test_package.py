"""Package-level promises: the core stands without Streamlit, and the requirements name what is imported."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_core_imports_and_runs_without_streamlit(tmp_path):
    code = (
        "import sys; sys.modules['streamlit'] = None\n"
        "import ttv_core, ttv_core.cli, ttv_core.hub, ttv_core.original_layout\n"
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
