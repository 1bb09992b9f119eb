"""Compose interpolation as the native runner applies it (the same semantics Docker applies to the same file)."""

import pytest

from agentic.errors import ConfigError
from agentic.stacks.interpolate import interpolate, interpolate_str

ENV = {"SET": "v", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${SET}", "v"), ("$SET/x", "v/x"), ("${UNSET}", ""), ("$$SET", "$SET"), ("$${SET}", "${SET}"),
        ("${UNSET:-d}", "d"), ("${EMPTY:-d}", "d"), ("${EMPTY-d}", ""), ("${UNSET-d}", "d"), ("${SET:-d}", "v"),
        ("${SET:+alt}", "alt"), ("${EMPTY:+alt}", ""), ("${EMPTY+alt}", "alt"), ("${UNSET+alt}", ""),
        ("http://127.0.0.1:${PORT:-4200}/api", "http://127.0.0.1:4200/api"),
    ],
)
def test_compose_semantics(text, expected):
    assert interpolate_str(text, ENV) == expected


def test_required_variable_is_a_clear_error():
    with pytest.raises(ConfigError, match="NEEDED is required: set it"):
        interpolate_str("${NEEDED:?set it}", ENV)


def test_nested_values_are_interpolated_keys_are_not():
    assert interpolate({"${SET}": ["${SET}", 1, {"k": "$SET"}]}, ENV) == {"${SET}": ["v", 1, {"k": "v"}]}
