"""Shared hypothesis strategies: hostile text, JSON values and CSV cells."""

from __future__ import annotations

from hypothesis import strategies as st

# Text with the characters that break parsers: separators, quotes, control characters, unicode.
SPECIAL = st.sampled_from(list(",;=?&:|\"'\n\r\t\x00 #[]{}\\/.-_é猫\u202e\ufeff"))
text = st.text(st.one_of(SPECIAL, st.characters(codec="utf-8", exclude_categories=("Cs",))), max_size=30)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2**63, 10**6]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
    max_leaves=12,
)
