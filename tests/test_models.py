"""Identity and update rules of papers (pure functions)."""

from __future__ import annotations

import pytest

from paperwire.models import (
    InvalidRecord,
    Paper,
    check_sizes,
    merge_papers,
    normalise_title,
    parse_arxiv_id,
    parse_day,
    parse_timestamp,
    title_id,
)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2501.12948", ("2501.12948", None)),
        ("2501.12948v3", ("2501.12948", 3)),
        ("arXiv:2501.12948v2", ("2501.12948", 2)),
        ("https://arxiv.org/abs/2501.12948v2", ("2501.12948", 2)),
        ("https://arxiv.org/pdf/2501.12948.pdf", ("2501.12948", None)),
        ("hep-th/9901001v2", ("hep-th/9901001", 2)),
        ("math.CA/0611800", ("math.CA/0611800", None)),
    ],
)
def test_arxiv_ids_are_parsed_to_bare_id_and_version(text: str, expected: tuple) -> None:
    assert parse_arxiv_id(text) == expected


@pytest.mark.parametrize("text", ["", "2501", "hello", "2501.12948; DROP TABLE papers", "../etc/passwd"])
def test_garbage_is_not_an_arxiv_id(text: str) -> None:
    with pytest.raises(InvalidRecord):
        parse_arxiv_id(text)


def test_title_ids_ignore_case_spacing_and_punctuation() -> None:
    assert title_id("Mind's Eye:  Grounded  reasoning") == title_id("minds eye grounded REASONING")
    assert title_id("Mind's Eye") != title_id("Mind's Ear")
    assert normalise_title("Théorie  de l’esprit!") == "theorie de lesprit"


def test_impossible_dates_are_rejected_with_the_value() -> None:
    with pytest.raises(InvalidRecord, match="2025-02-30"):
        parse_day("2025-02-30")
    with pytest.raises(InvalidRecord):
        parse_timestamp("yesterday")
    assert parse_timestamp("2025-06-10T12:00:00.123+02:00") == "2025-06-10T10:00:00Z"


def test_a_newer_version_replaces_the_text_and_an_older_one_does_not() -> None:
    v1 = Paper(id="2501.00001", title="Old title", abstract="old", version=1)
    v2 = Paper(id="2501.00001", title="New title", abstract="new", version=2)
    assert merge_papers(v1, v2).title == "New title"
    assert merge_papers(v2, v1).title == "New title"
    assert merge_papers(v2, v1).version == 2


def test_signals_take_the_newest_observation_whatever_the_import_order() -> None:
    monday = Paper(id="2501.00001", title="T", upvotes=10, observed_at="2025-06-09T00:00:00Z")
    tuesday = Paper(id="2501.00001", title="T", upvotes=25, github_stars=7, observed_at="2025-06-10T00:00:00Z")
    assert merge_papers(monday, tuesday).upvotes == 25
    assert merge_papers(tuesday, monday).upvotes == 25
    assert merge_papers(tuesday, monday).github_stars == 7


def test_a_record_without_signals_keeps_the_stored_ones() -> None:
    stored = Paper(id="2501.00001", title="T", upvotes=40, submitted_by="ada", observed_at="2025-06-10T00:00:00Z")
    bare = Paper(id="2501.00001", title="T", abstract="now with an abstract")
    merged = merge_papers(stored, bare)
    assert (merged.upvotes, merged.submitted_by, merged.abstract) == (40, "ada", "now with an abstract")


def test_listed_on_prefers_hf_then_arxiv_then_import_day_and_is_idempotent() -> None:
    imported = Paper(id="2501.00001", title="T", listed_on="2026-01-05", listed_from="import")
    arxiv = Paper(id="2501.00001", title="T", listed_on="2025-06-11", listed_from="arxiv")
    hf = Paper(id="2501.00001", title="T", listed_on="2025-06-12", listed_from="hf")
    merged = merge_papers(merge_papers(imported, arxiv), hf)
    assert (merged.listed_on, merged.listed_from) == ("2025-06-12", "hf")
    assert merge_papers(merged, arxiv) == merged
    assert merge_papers(merged, imported) == merged
    later_import = Paper(id="2501.00001", title="T", listed_on="2026-02-01", listed_from="import")
    assert merge_papers(imported, later_import) == imported


def test_oversized_text_is_rejected_not_truncated() -> None:
    with pytest.raises(InvalidRecord, match="abstract of 10,485,760 characters"):
        check_sizes(Paper(id="t-0123456789abcdef", title="T", abstract="x" * 10 * 1024 * 1024))
    with pytest.raises(InvalidRecord, match="missing title"):
        check_sizes(Paper(id="t-0123456789abcdef", title=""))


def test_author_and_category_lists_are_cleaned_like_each_name_alone() -> None:
    """text_list's one-scan shortcut (most lists need no cleaning) gives what cleaning each name gives."""
    import random

    from paperwire.models import clean_text
    from paperwire.sources.jsonl import text_list

    pieces = ["a", "b", "é", " ", "  ", "\n", "\t", "\r", "\xa0", "\x1f", "\x85", "\u2028", "\u2003"]
    chosen = random.Random(7)
    lists = [[], [""], [" "], ["Ada Lovelace", "Zoë O'Brien"], ["Ada  Lovelace"], ["Ada\nLovelace"], ["Ada", ""]]
    lists += [["".join(chosen.choices(pieces, k=chosen.randint(0, 5))) for _ in range(chosen.randint(0, 4))]
              for _ in range(20_000)]  # fmt: skip
    for names in lists:
        assert text_list(names, "authors") == tuple(clean_text(name) for name in names if name.strip()), names


def test_a_category_name_with_a_line_break_inside_is_rejected_not_read_as_two() -> None:
    from paperwire.models import InvalidRecord, Paper, check_sizes

    def paper(*categories: str) -> Paper:
        return Paper(id="2506.00001", title="T", abstract="", categories=categories)

    assert check_sizes(paper("cs.AI", "cs.LG")).categories == ("cs.AI", "cs.LG")
    assert check_sizes(paper("cs.AI", "I.2.7; I.2.6")).categories == ("cs.AI",)  # an ACM class beside: dropped
    for odd in (("cs.AI\ncs.LG",), ("cs.AI\n",), ("cs.AI", "\ncs.LG")):
        with pytest.raises(InvalidRecord, match="not a category name"):
            check_sizes(paper(*odd))


def test_hard_wrapped_text_is_joined_like_splitting_on_white_space() -> None:
    import random

    from paperwire.models import clean_text

    pieces = ["word", "x", " ", "\n", "  ", "\t", "\r", "\xa0", "\u2003", "\x85", "é"]
    chosen = random.Random(11)
    for _ in range(20_000):
        text = "".join(chosen.choices(pieces, k=chosen.randint(0, 12)))
        if "\n" in text:  # the wrapped case (text without a line break keeps its own fast path)
            assert clean_text(text) == " ".join(text.split()), repr(text)


def reference_lines(stream, max_bytes: int):
    """The line reader as it was (readline per line): what the block reader must give, line for line."""
    number = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, line
            continue
        yield number, line.rstrip(b"\r\n")


def test_lines_are_read_in_blocks_exactly_as_line_by_line() -> None:
    import io
    import random

    from paperwire.sources import numbered_lines

    chosen = random.Random(5)
    for _ in range(5_000):
        data = bytes(chosen.choices(b"ab\n\r", weights=[5, 5, 2, 1], k=chosen.randint(0, 40)))
        max_bytes, chunk = chosen.randint(1, 9), chosen.randint(1, 12)
        expected = list(reference_lines(io.BytesIO(data), max_bytes))
        assert list(numbered_lines(io.BytesIO(data), max_bytes, chunk)) == expected, (data, max_bytes, chunk)
