"""Turn each unused `# noqa: CODE - reason` into `# reason`, keeping the why (ruff's own RUF100 fix drops it).

    python scripts/unused_noqa_to_comments.py src tests bench scripts

Only lines where every code named is unused change; a bare unused `# noqa` is removed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

NOQA = re.compile(r"\s*# noqa(?::\s*([A-Z0-9, ]+))?(\s*[-—:]\s*(.*))?$")


def unused_noqa(paths: list[str]) -> dict[str, dict[int, set[str]]]:
    """{file: {line: the unused codes}} from ruff's RUF100 findings."""
    ruff = Path(sys.executable).with_name("ruff")
    output = subprocess.run([str(ruff), "check", "--output-format", "json", *paths], capture_output=True, text=True)
    found: dict[str, dict[int, set[str]]] = {}
    for item in json.loads(output.stdout or "[]"):
        if item["code"] == "RUF100":
            codes = set(re.findall(r"`([A-Z]+[0-9]+)`", item["message"]))
            found.setdefault(item["filename"], {})[item["location"]["row"]] = codes
    return found


def main() -> None:
    for name, rows in unused_noqa(sys.argv[1:] or ["."]).items():
        path = Path(name)
        lines = path.read_text(encoding="utf-8").split("\n")
        for row, unused in rows.items():
            match = NOQA.search(lines[row - 1])
            if match is None or set(re.findall(r"[A-Z]+[0-9]+", match.group(1) or "")) != unused:
                print(f"{name}:{row}: left as it is (some of its codes are used)")
                continue
            reason = (match.group(3) or "").strip()
            lines[row - 1] = lines[row - 1][: match.start()] + (f"  # {reason}" if reason else "")
        path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
