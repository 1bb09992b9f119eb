"""Time to first feedback: a signed webhook delivery → 👀 on the issue, vs one direct reaction call (issue #11).

    .venv/bin/python bench/trigger_latency.py [--deliveries 100] [--json]

One run starts PostgreSQL + a Prefect server (the product's deployment registered, served by nobody), the GitHub
simulator and the webhook receiver (`python -m agentic.triggers`) as processes. Per sample: a fresh issue, then a
signed `issues.labeled` delivery posted to the receiver as GitHub would, timed until the simulator lists 👀 on
the issue, polled while the delivery is in flight (signature, rules, permission, reaction; the flow run is created
after the 👀, and the answer to GitHub — also reported — waits for it).
Baseline, interleaved in the same run: one direct `POST /issues/{n}/reactions` to the simulator.
Goal: p50 ≤ 5× the direct call.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import httpx  # noqa: E402

from agentic.sandbox.github import DEMO_SEED, sign  # noqa: E402
from agentic.stacks.ports import free_port  # noqa: E402
from agentic.stacks.process import http_ok, start_process, stop_process, wait_until  # noqa: E402
from agentic.testing import running_postgres, running_prefect_server  # noqa: E402

SECRET = "bench-webhook-secret"
AGENT = {"Authorization": "Bearer sim-token-agent"}
ALICE = {"Authorization": "Bearer sim-token-alice"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def register(api_url: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from agentic.deployment.deploy import DEPLOYMENT_NAME, DEPLOYMENT_TAGS
    from agentic.workflows.jules_workflow import jules_agent_workflow

    with temporary_settings({PREFECT_API_URL: api_url}):
        deployment = await jules_agent_workflow.ato_deployment(name=DEPLOYMENT_NAME, tags=DEPLOYMENT_TAGS)
        await deployment.aapply()


async def measure(sim: str, receiver: str, samples: int) -> tuple[list[float], list[float], list[str], list[float]]:
    webhook, direct, statuses, answers = [], [], [], []
    async with httpx.AsyncClient(base_url=sim, timeout=10) as gh, httpx.AsyncClient(timeout=15) as hook:
        repository = (await gh.get("/repos/acme/widgets", headers=ALICE)).json()
        alice = (await gh.get("/users/alice", headers=ALICE)).json()
        for i in range(samples + 5):  # the first 5 warm up (connections, Prefect's caches)
            issue = (await gh.post("/repos/acme/widgets/issues", headers=ALICE,
                                   json={"title": f"bench {i} {uuid.uuid4().hex[:6]}", "body": "b"})).json()
            other = (await gh.post("/repos/acme/widgets/issues", headers=ALICE,
                                   json={"title": f"direct {i}", "body": "b"})).json()
            body = json.dumps({"action": "labeled", "issue": issue, "label": {"name": "jules"},
                               "repository": repository, "sender": alice}).encode()
            headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/bench",
                       "X-GitHub-Event": "issues", "X-GitHub-Delivery": str(uuid.uuid4()),
                       "X-Hub-Signature-256": sign(SECRET, body)}
            started = time.perf_counter()
            delivery = asyncio.create_task(hook.post(receiver, content=body, headers=headers))
            while True:  # watched as a user would see it, while the receiver goes on to create the flow run
                reactions = (await gh.get(f"/repos/acme/widgets/issues/{issue['number']}/reactions",
                                          headers=ALICE)).json()
                if any(r["content"] == "eyes" for r in reactions):
                    break
                if delivery.done() and delivery.result().status_code >= 300:
                    raise RuntimeError(f"delivery refused: {delivery.result().text}")
                await asyncio.sleep(0.002)
            elapsed = time.perf_counter() - started
            answer = await delivery
            answered = time.perf_counter() - started
            started = time.perf_counter()
            reacted = await gh.post(f"/repos/acme/widgets/issues/{other['number']}/reactions", headers=AGENT,
                                    json={"content": "eyes"})
            one_call = time.perf_counter() - started
            assert reacted.status_code in (200, 201), reacted.text
            if i >= 5:
                webhook.append(elapsed * 1000)
                answers.append(answered * 1000)
                direct.append(one_call * 1000)
                statuses.append(answer.json().get("status", "?"))
    return webhook, direct, statuses, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    py = sys.executable
    with running_postgres() as pg, running_prefect_server(pg.url) as api_url:
        asyncio.run(register(api_url))
        sim_port, receiver_port = free_port(), free_port()
        sim, receiver = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{receiver_port}"
        work = Path(tempfile.mkdtemp(prefix="bench-triggers-"))
        env = {"AGENTIC_ENV_FILE": str(work / "none.env"), "GITHUB_WEBHOOK_SECRET": SECRET, "GITHUB_API_URL": sim,
               "GITHUB_TOKEN": "sim-token-agent", "PREFECT_API_URL": api_url}
        procs = [start_process([py, "-m", "agentic.sandbox.github", "--port", str(sim_port), "--seed", str(DEMO_SEED)],
                               log_path=work / "github.log")]
        try:
            wait_until(lambda: http_ok(sim + "/_sim/health"), timeout=60, what="github-sim", proc=procs[0])
            procs.append(start_process([py, "-m", "agentic.triggers", "--port", str(receiver_port),
                                        "--log-level", "warning"], env=env, log_path=work / "triggers.log"))
            wait_until(lambda: http_ok(receiver + "/health"), timeout=60, what="receiver", proc=procs[1])
            webhook, direct, statuses, answers = asyncio.run(measure(sim, receiver + "/api/github/webhooks", args.deliveries))
        finally:
            for proc in reversed(procs):
                stop_process(proc)
    result = {"deliveries": len(webhook), "accepted": statuses.count("accepted"),
              "webhook_to_eyes_ms": {"p50": pct(webhook, .5), "p99": pct(webhook, .99)},
              "direct_reaction_ms": {"p50": pct(direct, .5), "p99": pct(direct, .99)},
              "ratio_p50": pct(webhook, .5) / pct(direct, .5), "ratio_p99": pct(webhook, .99) / pct(direct, .99),
              "mean_ms": statistics.fmean(webhook),
              "answer_with_flow_run_ms": {"p50": pct(answers, .5), "p99": pct(answers, .99)}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['deliveries']} signed deliveries ({result['accepted']} accepted: a run created for each)")
        print(f"webhook → 👀    p50 {result['webhook_to_eyes_ms']['p50']:7.1f} ms   p99 "
              f"{result['webhook_to_eyes_ms']['p99']:7.1f} ms")
        print(f"direct reaction p50 {result['direct_reaction_ms']['p50']:7.1f} ms   p99 "
              f"{result['direct_reaction_ms']['p99']:7.1f} ms")
        print(f"answer to GitHub p50 {result['answer_with_flow_run_ms']['p50']:6.1f} ms   p99 "
              f"{result['answer_with_flow_run_ms']['p99']:7.1f} ms   (👀, then the flow run created in Prefect)")
        print(f"ratio           p50 {result['ratio_p50']:7.2f}×      p99 {result['ratio_p99']:7.2f}×   (goal: p50 ≤ 5×)")
    return 0 if result["accepted"] == len(webhook) and result["ratio_p50"] <= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
