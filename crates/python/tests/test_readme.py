"""The README's Python examples run as written."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[3]


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_package_readme_example_runs():
    blocks = python_blocks(ROOT / "crates" / "python" / "README.md")
    assert blocks, "no ```python block in crates/python/README.md"
    for code in blocks:
        exec(compile(code, "crates/python/README.md", "exec"), {})


def test_root_readme_one_liner_runs():
    text = (ROOT / "README.md").read_text()
    m = re.search(r'python -c "(import imbalance;.*?)"\n', text)
    assert m, "README.md has no `python -c \"import imbalance; ...\"` line"
    exec(m.group(1), {})
