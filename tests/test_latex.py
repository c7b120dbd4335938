"""LaTeX in titles and abstracts read as text (paperwire.latex, on pylatexenc)."""

from __future__ import annotations

import pytest

from paperwire.latex import latex_to_text


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("C$^2$DLM: fast decoding", "C²DLM: fast decoding"),
        ("Under \\textit{mild} conditions, \\emph{really}", "Under mild conditions, really"),
        (
            "$O(n^2)$ time and $10^{-3}$ error with $\\alpha$-sparse $x_{10}$",
            "O(n²) time and 10⁻³ error with α-sparse x₁₀",
        ),
        ("improves 5% on ~100 samples: A & B #1", "improves 5% on ~100 samples: A & B #1"),
        ("we propose \\method, and \\method achieves it", "we propose \\method, and \\method achieves it"),
        ("see \\href{https://example.org}{our page}", "see our page"),
        ("costs \\$5 and $\\times 3$", "costs $5 and × 3"),
        ("Plain words, no markup <b>", "Plain words, no markup <b>"),
    ],
)
def test_latex_reads_as_text(given: str, shown: str) -> None:
    assert latex_to_text(given) == shown


def test_text_that_does_not_parse_is_shown_as_stored() -> None:
    broken = "see \\href{a}{b {c}} here"  # pylatexenc 2.11 raises on this \\href
    assert latex_to_text(broken) == broken
    assert latex_to_text("") == "" and latex_to_text(None) == ""
