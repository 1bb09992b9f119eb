"""JulesClient's calls that change a session are safe to repeat (a task retry, a re-entered run): `sendMessage` is
not sent again when Jules already has the text, `approvePlan` is not called once the plan no longer awaits approval.
Real parts: the Jules simulator (in-process); the hub is stood in for by a transport that turns each `jules-<op>`
tool call into the REST call the hub's openapi server makes, and counts them."""

from __future__ import annotations

import collections
from typing import Any

import httpx

from agentic.jules.client import JulesClient
from agentic.hub.mcp_client import classify_failure
from tests.sandbox.test_jules_api import conformance, create, github, make_sim, wait_for  # noqa: F401 - fixtures


class RestHub:
    """The hub's `jules` server over the simulator's API: path parameters into the path, `body` as JSON, the rest
    as query; an error status becomes the hub's error text (agentic/hub/openapi.py: "API call failed: <status>
    <reason> - <body>")."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self.api, self.requests = api, collections.Counter()

    def calls_to(self, server: str) -> int:
        return sum(self.requests.values())

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> Any:
        op, args = tool.removeprefix("jules-"), dict(arguments or {})
        self.requests[op] += 1
        sid = args.pop("sessionId", None)
        method, path = {"getSession": ("GET", f"/sessions/{sid}"),
                        "listActivities": ("GET", f"/sessions/{sid}/activities"),
                        "sendMessage": ("POST", f"/sessions/{sid}:sendMessage"),
                        "approvePlan": ("POST", f"/sessions/{sid}:approvePlan")}[op]
        body = args.pop("body", None)
        response = await self.api.request(method, path, params=args, json=body)
        if response.status_code >= 400:
            raise classify_failure(tool, f"API call failed: {response.status_code} {response.reason_phrase} - "
                                         f"{response.text}")
        return response.json()


async def test_a_message_jules_already_has_is_not_sent_again(make_sim):  # noqa: F811
    api, _ = await make_sim()
    session = await create(api, sourceContext={"source": "sources/github/octo-org/hello-world",
                                                "githubRepoContext": {"startingBranch": "main"}})
    hub = RestHub(api)
    jules = JulesClient(hub)
    assert await jules.send_message(session["id"], "CI failed: please fix test_x", since=None) is True
    # The retry and the re-entered run send the same text (whitespace aside): Jules already has it.
    assert await jules.send_message(session["id"], "CI failed:  please fix\ntest_x", since=None) is False
    assert await jules.send_message(session["id"], "CI failed: please fix test_x", since=None) is False
    assert hub.requests["sendMessage"] == 1
    activities = (await api.get(f"/sessions/{session['id']}/activities")).json()["activities"]
    assert sum(1 for a in activities if "userMessaged" in a) == 1


async def test_a_plan_no_longer_awaiting_approval_is_not_approved_again(make_sim):  # noqa: F811
    api, _ = await make_sim()
    session = await create(api, requirePlanApproval=True, sourceContext={
        "source": "sources/github/octo-org/hello-world", "githubRepoContext": {"startingBranch": "main"}})
    await wait_for(api, session["id"], {"AWAITING_PLAN_APPROVAL"})
    hub = RestHub(api)
    jules = JulesClient(hub)
    assert await jules.approve_plan(session["id"], "plan-1") is True
    assert await jules.approve_plan(session["id"], "plan-1") is False  # a retry or a re-entered run
    assert hub.requests["approvePlan"] == 1
