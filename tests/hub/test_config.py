"""The hub's server-config checks as pure functions (no hub process): the seed's two body shapes, the name rule,
mcphub's type inference and `${VAR}` expansion. The REST tests cover the same rules through the server."""

from __future__ import annotations

import pytest

from agentic.hub.config import ConfigInvalid, check_name, expand, infer_type, split_body

SEED_FLAT = {"name": "github", "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],
             "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "your_token"}}


def test_flat_and_nested_bodies_give_the_same_config():
    name, flat = split_body(SEED_FLAT)
    assert name == "github"
    assert flat == {k: v for k, v in SEED_FLAT.items() if k != "name"}
    assert split_body({"name": "github", "config": flat}) == ("github", flat)


def test_a_flat_body_keeps_only_config_keys_and_the_result_is_a_copy():
    body = {"name": "x", "command": "run", "args": ["a"], "junk": 1, "cwd": "/tmp", "enabled": False}
    name, config = split_body(body)
    assert config == {"command": "run", "args": ["a"], "cwd": "/tmp", "enabled": False}
    config["args"].append("b")
    assert body["args"] == ["a"]  # deep copy: the caller's body is untouched
    nested = {"name": "y", "config": {"command": "c", "args": ["1"]}}
    _, config = split_body(nested)
    config["args"].append("2")
    assert nested["config"]["args"] == ["1"]


@pytest.mark.parametrize("body, message", [
    ([], "request body must be a JSON object with `name` and `config` (got a list)"),
    ("x", "request body must be a JSON object with `name` and `config` (got the string 'x')"),
    ({"config": {"command": "x"}}, "`name` is required (a non-empty string)"),
    ({"name": "", "config": {"command": "x"}}, "`name` is required (a non-empty string)"),
    ({"name": 7, "config": {"command": "x"}}, "`name` must be a string (got the number 7)"),
    ({"name": "ok", "config": "nope"}, "`config` must be an object (got the string 'nope')"),
    ({"name": "ok", "config": None}, "`config` must be an object (got null)"),
    ({"name": "ok", "config": {}}, "`config` is missing"),
    ({"name": "ok", "junk": 1}, "`config` is missing: send {\"name\", \"config\": {\"type\", ...}} or the flat form "
                                "{\"name\", \"type\", \"command\"|\"url\"|\"openapi\", ...}"),
])
def test_bad_bodies_name_the_field(body, message):
    with pytest.raises(ConfigInvalid) as caught:
        split_body(body)
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize("name", ["a", "A1", "github", "my.server_2-x", "9lives", "x" * 64])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name, message", [
    ("", "`name` '' is not a valid server name"),
    ("-x", "`name` '-x' is not a valid server name"),
    ("bad name!", "`name` 'bad name!' is not a valid server name"),
    ("x" * 65, "`name` 'xxxxxxxx"),
    ("a/b", "`name` 'a/b' is not a valid server name"),
    ("ok\n", "`name` 'ok\\n' is not a valid server name"),  # `$` alone would accept the trailing newline
])
def test_bad_names_are_refused_with_the_rule(name, message):
    with pytest.raises(ConfigInvalid) as caught:
        check_name(name)
    text = str(caught.value)
    assert text.startswith(message) and "1-64 letters, digits" in text, text


def test_a_padded_name_gets_the_hint_and_the_field_is_named():
    with pytest.raises(ConfigInvalid) as caught:
        check_name(" github")
    assert str(caught.value) == ("`name` ' github' is not a valid server name: 1-64 letters, digits, '-', '_' or '.', "
                                 "starting with a letter or digit; leading/trailing spaces are not trimmed")
    with pytest.raises(ConfigInvalid) as caught:
        check_name("bad name")
    assert str(caught.value).endswith("starting with a letter or digit")
    with pytest.raises(ConfigInvalid, match=r"^`name` must be a string \(got the number 7\)$"):
        check_name(7)
    with pytest.raises(ConfigInvalid, match=r"^`server` must be a string \(got null\)$"):
        check_name(None, "server")
    with pytest.raises(ConfigInvalid, match=r"^`tool` '!' is not"):
        check_name("!", field="tool")


@pytest.mark.parametrize("config, kind", [
    ({"openapi": {"url": "http://x/openapi.json"}, "url": "http://y", "command": "c"}, "openapi"),
    ({"openapi": {"schema": {"openapi": "3.0.0"}}}, "openapi"),
    ({"openapi": {}, "url": "http://y"}, "sse"),
    ({"openapi": "http://x", "command": "c"}, "stdio"),
    ({"url": "http://y", "command": "c"}, "sse"),
    ({"url": "", "command": "c"}, "stdio"),
    ({"command": "npx"}, "stdio"),
    ({"command": ""}, None),
    ({}, None),
])
def test_type_inference_follows_mcphub(config, kind):
    assert infer_type(config) == kind


def test_expand_substitutes_both_forms_recursively_and_unknown_is_empty():
    environ = {"TOKEN": "t0k", "HOST": "h", "A_1": "one"}
    assert expand("Bearer ${TOKEN}", environ) == "Bearer t0k"
    assert expand("$HOST:$A_1/${MISSING}x", environ) == "h:one/x"
    assert expand(["${HOST}", {"k": "$TOKEN", "n": 3}], environ) == ["h", {"k": "t0k", "n": 3}]
    assert expand(5, environ) == 5 and expand(None, environ) is None
    assert expand("$1 ${1A} plain", environ) == "$1 ${1A} plain"


def test_expand_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("HUB_CONFIG_TEST_VAR", "from-env")
    assert expand("${HUB_CONFIG_TEST_VAR}") == "from-env"
    assert expand("${HUB_CONFIG_TEST_VAR}", {}) == ""
