"""Pure: the rules file, the decision for each event shape, and the idempotency key."""

from __future__ import annotations

import copy

import pytest
from pydantic import ValidationError

from agentic.errors import ConfigError
from agentic.triggers import DEFAULT_RULES_PATH, Ignored, Rules, Trigger, idempotency_key, load_rules, match
from agentic.triggers.launch import run_parameters, run_tags


def payload(action: str = "labeled", *, label: str = "jules", sender: str = "alice", sender_type: str = "User",
            state: str = "open", repo: str = "acme/widgets", **extra) -> dict:
    return {
        "action": action,
        "issue": {"number": 7, "title": "Fix slugify", "body": "It leaves a dash.", "state": state,
                  "html_url": f"https://github.com/{repo}/issues/7", "user": {"login": "alice", "type": "User"}},
        "label": {"name": label},
        "repository": {"full_name": repo},
        "sender": {"login": sender, "type": sender_type},
        **extra,
    }


def comment(text: str, action: str = "created", **kw) -> dict:
    data = payload(action, **kw)
    data.pop("label")
    data["comment"] = {"body": text, "user": data["sender"]}
    return data


RULES = load_rules()


def test_default_rules_file_is_the_documented_defaults():
    assert RULES.defaults.label == "jules" and RULES.defaults.mention == "jules" and RULES.defaults.command == "/jules"
    assert RULES.defaults.assignee is None and RULES.defaults.min_permission == "write"
    assert load_rules(DEFAULT_RULES_PATH) == Rules()


def test_label_triggers_with_the_issue_and_sender():
    decision = match("issues", payload(label="Jules"), RULES)  # labels are case-insensitive on GitHub
    assert isinstance(decision, Trigger)
    assert (decision.event, decision.kind, decision.owner, decision.repo, decision.number) == \
        ("issues.labeled", "label", "acme", "widgets", 7)
    assert decision.issue_url == "https://github.com/acme/widgets/issues/7" and decision.sender == "alice"
    assert run_parameters(decision) == {"github_issue_url": "https://github.com/acme/widgets/issues/7",
                                        "requested_by": "alice"}
    assert run_tags(decision) == ["github", "trigger:issues.labeled", "repo:acme/widgets", "issue:acme/widgets#7"]


@pytest.mark.parametrize(("event", "data", "reason"), [
    ("issues", payload(label="bug"), "label 'bug' is not the trigger label 'jules'"),
    ("issues", payload("opened"), "issues.opened is not a trigger"),
    ("issues", payload("unlabeled"), "issues.unlabeled is not a trigger"),
    ("issue_comment", comment("/jules", action="edited"), "issue_comment.edited is not a trigger"),
    ("push", {"ref": "refs/heads/main"}, "push is not a trigger"),
    ("issues", payload(state="closed"), "issue #7 is closed"),
    ("issues", payload(sender="acme-ci[bot]", sender_type="Bot"), "sender acme-ci[bot] is a bot"),
    ("issues", payload(sender="renovate[bot]"), "sender renovate[bot] is a bot"),
    ("issues", payload("assigned", assignee={"login": "bob"}), "assignee 'bob' is not the trigger assignee None"),
    ("issue_comment", comment("thanks!"), "the comment has no @jules or a /jules line"),
])
def test_what_is_ignored_says_why(event, data, reason):
    assert match(event, data, RULES) == Ignored(reason)


def test_own_login_never_triggers_even_when_allowed_as_bot():
    rules = Rules.model_validate({"defaults": {"allow_bots": ["issue-agent[bot]", "helper[bot]"]}})
    assert match("issues", payload(sender="helper[bot]", sender_type="Bot"), rules).kind == "label"
    assert match("issues", payload(sender="issue-agent[bot]", sender_type="Bot"), rules, "issue-agent[bot]") == \
        Ignored("sent by our own login issue-agent[bot]")
    assert match("issues", payload(sender="machine-user"), RULES, "Machine-User") == \
        Ignored("sent by our own login machine-user")


def test_pull_request_conversations_are_not_triggers():
    data = comment("/jules")
    data["issue"]["pull_request"] = {"url": "https://api.github.com/repos/acme/widgets/pulls/7"}
    assert match("issue_comment", data, RULES) == Ignored("conversations on pull requests are not triggers")


@pytest.mark.parametrize(("text", "kind"), [
    ("/jules", "command"),
    ("  /jules fix it please", "command"),
    ("Looks clear.\n/JULES", "command"),
    ("@jules can you take this?", "mention"),
    ("cc @Jules.", "mention"),
    ("(@jules)", "mention"),
    ("@julesfan what do you think", None),
    ("mail me@jules.dev", None),
    ("see /julesbot", None),
    ("path/jules is not a command", None),
    ("> /jules\nquoting the earlier request", None),
    ("```\n/jules\n@jules\n```", None),
    ("run `/jules` to start", None),
])
def test_comment_mentions_and_commands(text, kind):
    decision = match("issue_comment", comment(text), RULES)
    assert (decision.kind if isinstance(decision, Trigger) else None) == kind


def test_per_repository_overrides_merge_over_defaults():
    rules = Rules.model_validate({
        "defaults": {"label": "agent", "mention": None},
        "repositories": {"Acme/Widgets": {"label": "robot", "assignee": "@acme-jules", "command": "/go"},
                         "acme/off": {"enabled": False}, "acme/nolabel": {"label": None}},
    })
    widgets = rules.for_repo("acme/widgets")
    assert (widgets.label, widgets.assignee, widgets.command, widgets.mention) == ("robot", "acme-jules", "/go", None)
    assert rules.for_repo("other/repo").label == "agent"
    assert match("issues", payload(label="robot"), rules).kind == "label"
    assert isinstance(match("issues", payload(label="agent"), rules), Ignored)
    assert match("issues", payload("assigned", assignee={"login": "ACME-jules"}), rules).kind == "assignment"
    assert match("issue_comment", comment("/go"), rules).kind == "command"
    assert isinstance(match("issue_comment", comment("@jules"), rules), Ignored)  # mention off everywhere
    assert match("issues", payload(repo="acme/off"), rules) == Ignored("triggers are off for acme/off")
    assert match("issues", payload(repo="acme/nolabel"), rules) == \
        Ignored("label 'jules' is not the trigger label None")


@pytest.mark.parametrize(("text", "error"), [
    ("defaults: {lable: jules}", "defaults.lable: Extra inputs are not permitted"),
    ("defaults: {min_permission: triage}", "defaults.min_permission"),
    ("defaults: {command: jules}", "a command is a slash and a word"),
    ("defaults: {assignee: 'not a login'}", "not a GitHub login"),
    ("repositories: {widgets: {label: x}}", "repository keys are owner/name"),
    ("defaults: [", "not YAML"),
])
def test_bad_rules_file_is_one_line_naming_the_file(tmp_path, text, error):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=str(path)) as info:
        load_rules(path)
    assert error in str(info.value) and "\n" not in str(info.value).strip()
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


def test_payload_without_what_the_schema_promises_raises():
    data = payload()
    del data["issue"]["html_url"]
    with pytest.raises(ValidationError):
        match("issues", data, RULES)


def test_idempotency_key_is_per_issue_text():
    key = idempotency_key("https://api.github.com/", "Acme", "Widgets", 7, "Fix slugify", "It leaves a dash.")
    assert key.startswith("https://api.github.com/acme/widgets#7@") and len(key.rpartition("@")[2]) == 16
    assert key == idempotency_key("https://api.github.com", "acme", "widgets", 7, "Fix slugify", "It leaves a dash.")
    others = {idempotency_key("https://api.github.com", "acme", "widgets", 7, "Fix slugify", "It leaves a dash!"),
              idempotency_key("https://api.github.com", "acme", "widgets", 8, "Fix slugify", "It leaves a dash."),
              idempotency_key("https://ghe.example/api/v3", "acme", "widgets", 7, "Fix slugify", "It leaves a dash."),
              idempotency_key("https://api.github.com", "acme", "widgets", 7, "Fix slugifyIt", " leaves a dash.")}
    assert key not in others and len(others) == 4


def test_rules_are_immutable_between_deliveries():
    rules = copy.deepcopy(RULES)
    with pytest.raises(ValidationError):
        rules.defaults.label = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("text", "kind"), [
    ("/jules go", "go"),
    ("  /JULES Go  ", "go"),
    ("thanks\n/jules go\n", "go"),
    ("/jules go ahead and fix it", "command"),  # only the bare `/jules go` line overrules the triage
    ("/jules", "command"),
    ("/jules going", "command"),
])
def test_jules_go_is_a_command_of_its_own(text, kind):
    decision = match("issue_comment", comment(text), RULES)
    assert isinstance(decision, Trigger) and decision.kind == kind
    go = run_parameters(decision).get("go")
    assert go is (True if kind == "go" else None)


def test_a_quoted_jules_go_is_not_asking():
    assert isinstance(match("issue_comment", comment("> /jules go\nthe bot said to type that"), RULES), Ignored)


def test_the_automation_level_defaults_to_cautious_and_overrides_per_repository(tmp_path):
    assert RULES.defaults.automation == "cautious"
    rules = Rules.model_validate({"defaults": {"automation": "full"},
                                  "repositories": {"acme/locked": {"automation": "manual"}}})
    assert rules.for_repo("acme/widgets").automation == "full"
    assert rules.for_repo("ACME/Locked").automation == "manual"
    bad = tmp_path / "rules.yaml"
    bad.write_text("defaults:\n  automation: yolo\n")
    with pytest.raises(ConfigError, match="automation"):
        load_rules(bad)
