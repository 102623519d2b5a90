"""List the benchmarks, or run one: ``python -m bench`` / ``python -m bench NAME [its options]``."""

from __future__ import annotations

import ast
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> dict[str, str]:
    """Runnable benchmark modules (those with a ``__main__`` block) and the first line of their docstring."""
    found = {}
    for path in sorted(HERE.glob("*.py")):
        source = path.read_text()
        if path.stem.startswith("_") or 'if __name__ == "__main__"' not in source:
            continue
        doc = ast.get_docstring(ast.parse(source)) or ""
        found[path.stem] = doc.splitlines()[0] if doc else ""
    return found


def main(argv: list[str]) -> int:
    known = benchmarks()
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m bench NAME [options]   (results and method: docs/benchmarks.md)\n")
        width = max(map(len, known))
        for name, summary in known.items():
            print(f"  {name:<{width}}  {summary}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in known:
        print(f"no benchmark named {name!r}; `python -m bench` lists them", file=sys.stderr)
        return 2
    sys.argv = [f"bench.{name}", *rest]
    runpy.run_module(f"bench.{name}", run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
