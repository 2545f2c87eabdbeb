"""The catalog's FULLTEXT tokens (app/models/search.py): a substring's tokens are always
among its text's, so the index never hides a row the LIKE would find."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.models.search import boolean_query, search_text, tokens


def _matches(q: str, text: str) -> bool:
    """What MariaDB's boolean mode answers for `boolean_query(q)` against `search_text(text)`."""
    stored = search_text(text).split()
    for term in boolean_query(q).split():
        word = term.lstrip("+")
        if word.endswith("*"):
            if not any(s.startswith(word[:-1]) for s in stored):
                return False
        elif word not in stored:
            return False
    return True


def test_chinese_is_cut_into_characters_and_other_scripts_into_words():
    assert tokens("Python全栈开发, Web 2.0!") == ["python", "全", "栈", "开", "发", "web", "2", "0"]


def test_every_token_is_long_enough_and_no_stop_word():
    # MariaDB ignores tokens under 3 characters and words such as "the" or "with".
    for token in search_text("Go 与 the C of it").split():
        assert len(token) >= 3
        assert token.startswith("x")


def test_chinese_words_are_found_wherever_they_are():
    text = "网络爬虫实战: Scrapy from scratch"
    for q in ("爬虫", "虫实", "网络爬虫实战", "实战", "scrapy", "Scr", "爬虫 scrapy"):
        assert _matches(q, text), q
    assert not _matches("爬行", text)
    assert not _matches("django", text)


def test_a_query_without_letters_or_digits_has_no_index_query():
    assert boolean_query("%") is None
    assert boolean_query("  --  ") is None


def test_long_words_are_cut_the_same_way_in_text_and_query():
    word = "a" * 100
    assert _matches(word, f"x {word} y")
    assert len(search_text(word)) <= 84  # MariaDB's longest token


alphabet = st.sampled_from(list("abc 爬虫实战数据.-_1"))


@given(st.text(alphabet, min_size=1, max_size=30), st.data())
def test_any_substring_that_starts_a_word_is_found(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    q = text[start:end]
    starts_word = start == 0 or not (text[start - 1].isalnum() and text[start].isalnum())
    if boolean_query(q) is not None and starts_word:
        assert _matches(q, text), (q, text)
