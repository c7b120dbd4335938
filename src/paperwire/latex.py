"""LaTeX in titles and abstracts read as text: `C$^2$DLM` → `C²DLM`, `\\textit{mild}` → `mild`.

Text is stored as given (SPEC §2); pages and mails show it through `latex_to_text`, which leaves text
without LaTeX untouched and keeps what arXiv authors type as plain characters (`5%`, `~100`, `A & B`).
"""

from __future__ import annotations

import functools
import re

from pylatexenc.latex2text import LatexNodes2Text

SUPERSCRIPTS = str.maketrans("0123456789+-()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁽⁾ⁿ")
SUBSCRIPTS = str.maketrans("0123456789+-()", "₀₁₂₃₄₅₆₇₈₉₊₋₍₎")
# Characters that are markup to LaTeX but plain text to the people who typed them into an abstract.
KEPT = {"%": "\ue000", "~": "\ue001", "&": "\ue002", "#": "\ue003"}
LATEX_HINT = re.compile(r"[$\\]")
MATH = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$")
HREF = re.compile(r"\\href\{([^{}]*)\}\{([^{}]*)\}")  # pylatexenc 2.11 fails on \href: its text, read here
SCRIPT = re.compile(r"([\^_])(?:\{([0-9+\-()n]+)\}|([0-9n]))")
MAX_CHARS = 20_000


class _KeepUnknownMacros(LatexNodes2Text):
    """Authors' own macros (`\\method`, `\\ourmodel`) are defined in their paper, not in the abstract:
    show them as written rather than dropping the word they stand for."""

    def macro_node_to_text(self, node):  # pylatexenc's node in, text out
        if self.latex_context.get_macro_spec(node.macroname) is None:
            return "\\" + node.macroname + (getattr(node, "macro_post_space", "") or "")
        return super().macro_node_to_text(node)


_converter = _KeepUnknownMacros(math_mode="text", strict_latex_spaces=False)


def _scripts_in_math(match: re.Match[str]) -> str:
    def replace(script: re.Match[str]) -> str:
        marker, braced, single = script.groups()
        value = braced or single
        if marker == "_" and "n" in value:
            return script.group(0)
        return value.translate(SUPERSCRIPTS if marker == "^" else SUBSCRIPTS)

    return "$" + SCRIPT.sub(replace, match.group(1)) + "$"


@functools.lru_cache(maxsize=16_384)
def latex_to_text(text: str | None) -> str:
    """`text` with its LaTeX commands and math turned into plain characters (unchanged when it has none)."""
    if not text or not LATEX_HINT.search(text) or len(text) > MAX_CHARS:
        return text or ""
    source = re.sub(r"(?<!\\)[%~&#]", lambda found: KEPT[found.group(0)], text)
    source = HREF.sub(r"\2", MATH.sub(_scripts_in_math, source))
    try:
        converted = _converter.latex_to_text(source)
    except Exception:  # malformed markup in imported data: show it as it was given
        return text
    for char, placeholder in KEPT.items():
        converted = converted.replace(placeholder, char)
    return " ".join(converted.split()) if "\n" not in text else converted.strip()
