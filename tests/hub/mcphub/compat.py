"""Run the product against a real mcphub built from a local checkout (scripts/mcphub_compat.sh; not CI).

    python tests/hub/mcphub/compat.py --mcphub-dir DIR [--record tests/hub/mcphub/old-ae3fe1c.json] [--no-flow]

DIR holds a built mcphub (`dist/index.js`; outside this repository — its code stays out of ours). On free ports
it starts PostgreSQL + Prefect, the sandbox (GitHub and Jules simulators, our hub with nothing preloaded) and
mcphub (`node DIR/dist/index.js` in an empty working directory, default admin/admin123), then:

1. records the raw answers the hub client depends on (`--record`: the transcript tests/hub/test_mcphub_replay.py
   replays): health, auth, login routes, settings, the seed's flat POST, the openapi probe, the body limit, a
   duplicate, the per-server route, `/mcp` tool names and an unknown tool;
2. runs `deploy.py --deploy-only` without MCP_OPENAPI_HUB_URL (github preloaded, then the one-line reason when the
   hub has no `openapi` type) and with it (jules and github-rest on our hub, bridged as `agentic-openapi`);
3. runs sandbox issue acme/widgets#1 through mcphub with the flow CLI and checks it reaches a PR.
Prints what it saw, one line each, and exits 1 on the first step that fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[3]
ISSUE_URL = "https://github.com/acme/widgets/issues/1"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BCRYPT = re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}")


def _scrub(text: str, secrets: list[str]) -> str:
    text = _JWT.sub("<jwt>", _BCRYPT.sub("<bcrypt>", text))
    for secret in secrets:
        text = text.replace(secret, "<secret>")
    return re.sub(r'"createTime":\s*\d+', '"createTime":0', text)


class Recorder:
    """Raw exchanges with one hub, kept as the transcript's entries (secrets, JWTs and hashes replaced)."""

    def __init__(self, base_url: str, secrets: list[str]) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.secrets = secrets
        self.entries: list[dict[str, Any]] = []
        self.jwt: str | None = None

    def __call__(self, name: str, method: str, path: str, *, auth: str | None = None, json_body: Any = None,
                 body_note: str | None = None) -> httpx.Response:
        headers = {}
        if auth == "x-auth-token":
            headers["x-auth-token"] = self.jwt or ""
        elif auth == "bearer-jwt":
            headers["Authorization"] = f"Bearer {self.jwt}"
        content = None if json_body is None else json.dumps(json_body, separators=(",", ":")).encode()
        if content is not None:
            headers["Content-Type"] = "application/json"
        response = self.http.request(method, path, content=content, headers=headers)
        request: dict[str, Any] = {"method": method, "path": path, "auth": auth or "none"}
        if content is not None:
            request["body_bytes"] = len(content)
            if body_note:
                request["body_note"] = body_note
            else:
                request["json"] = json.loads(_scrub(content.decode(), self.secrets))
        ctype = response.headers.get("content-type", "").split(";")[0]
        answer: dict[str, Any] = {"status": response.status_code, "content_type": ctype}
        if ctype == "application/json":
            answer["json"] = json.loads(_scrub(response.text, self.secrets))
        else:
            answer["text_head"] = _scrub(response.text[:120], self.secrets)
        self.entries.append({"name": name, "request": request, "response": answer})
        print(f"  {method} {path} [{auth or 'no auth'}] -> {response.status_code} {ctype} "
              f"{_scrub(response.text[:100], self.secrets)!r}")
        return response


def _start_mcphub(mcphub_dir: Path, port: int, workdir: Path) -> subprocess.Popen:
    (workdir / "mcp_settings.json").write_text(json.dumps({"mcpServers": {}, "users": []}))
    log = open(workdir / "mcphub.log", "w")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(["node", str(mcphub_dir / "dist" / "index.js")], cwd=workdir, stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PORT": str(port)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"http://127.0.0.1:{port}/auth/login", json={}, timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"mcphub did not start; see {workdir / 'mcphub.log'}")


def _github_children(mcphub_pid: int) -> int:
    """Child processes of mcphub running the npm GitHub server (issue #14: one POST started two)."""
    out = subprocess.run(["ps", "-eo", "pid,ppid,args"], capture_output=True, text=True).stdout
    pids = {mcphub_pid}
    rows = [line.split(None, 2) for line in out.splitlines()[1:] if len(line.split(None, 2)) == 3]
    for _ in range(8):  # npm exec -> sh -> node: follow a few generations
        pids |= {int(pid) for pid, ppid, _ in rows if int(ppid) in pids}
    return sum(1 for pid, _, args in rows if int(pid) in pids and "server-github" in args
               and args.startswith("node ") and not args.startswith(("npm", "npx")))


async def _mcp_names(url: str) -> tuple[list[str], dict[str, str]]:
    """Tool names on the hub's /mcp and the answers to a prefixed and a bare call of get_issue."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        names = [tool.name for tool in (await session.list_tools()).tools]
        answers = {}
        for name in ("github-get_issue", "get_issue"):
            result = await session.call_tool(name, {"owner": "acme", "repo": "widgets", "issue_number": 1})
            text = "".join(getattr(part, "text", "") for part in result.content)
            answers[name] = ("isError: " if result.is_error else "ok: ") + text[:100]
        return names, answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mcphub-dir", type=Path, required=True)
    parser.add_argument("--record", type=Path)
    parser.add_argument("--no-flow", action="store_true", help="stop after deploy.py")
    parser.add_argument("--label", help="the build's name in the transcript (default: the checkout's commit)")
    args = parser.parse_args()
    from agentic.deployment.servers import body_size, hub_server_definitions
    from agentic.stacks.ports import free_port
    from agentic.testing import running_postgres, running_prefect_server
    from agentic.testing.sandbox import running_sandbox

    commit = args.label or subprocess.run(["git", "-C", str(args.mcphub_dir), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    findings: dict[str, Any] = {}
    with running_postgres() as cluster, running_prefect_server(cluster.url) as prefect_api_url, \
            running_sandbox(preload=False) as sandbox:
        workdir = Path(tempfile.mkdtemp(prefix="mcphub-compat-"))
        port = free_port()
        hub_url = f"http://127.0.0.1:{port}"
        proc = _start_mcphub(args.mcphub_dir, port, workdir)
        secrets = [sandbox.env["GITHUB_TOKEN"], sandbox.env["JULES_API_KEY"]]
        try:
            print(f"mcphub {commit} at {hub_url} (log {workdir / 'mcphub.log'}); our hub {sandbox.hub_url}")
            rec = Recorder(hub_url, secrets)
            definitions = hub_server_definitions(sandbox.settings)
            rec("health", "GET", "/health")
            rec("servers-without-auth", "GET", "/api/servers")
            rec("new-login-route", "POST", "/api/auth/login", json_body={"username": "admin", "password": "admin123"})
            rec("login-wrong-password", "POST", "/auth/login", json_body={"username": "admin", "password": "nope"})
            login = rec("login", "POST", "/auth/login", json_body={"username": "admin", "password": "admin123"})
            rec.jwt = login.json().get("token")
            rec("jwt-as-bearer", "GET", "/api/servers", auth="bearer-jwt")
            rec("servers-empty", "GET", "/api/servers", auth="x-auth-token")
            rec("settings", "GET", "/api/settings", auth="x-auth-token")
            rec("seed-flat-post", "POST", "/api/servers", auth="x-auth-token", json_body={
                "name": "github", "type": "stdio", "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-github"], "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "x"}})
            rec("openapi-probe", "POST", "/api/servers", auth="x-auth-token", json_body={
                "name": "agentic-capability-probe",
                "config": {"type": "openapi", "url": "http://127.0.0.1:9/agentic-capability-probe"}})
            for name in ("github-rest", "jules"):
                size = body_size(name, definitions[name])
                rec(f"post-{name}", "POST", "/api/servers", auth="x-auth-token",
                    json_body={"name": name, "config": definitions[name]},
                    body_note=f"the {name} definition ({size:,} bytes compact)")
            rec("server-route-missing", "GET", "/api/servers/ghost", auth="x-auth-token")

            env = {**{k: v for k, v in os.environ.items() if not k.startswith("MCP_")}, **sandbox.env,
                   "MCP_SERVER_URL": hub_url, "PREFECT_API_URL": prefect_api_url, "COLUMNS": "200",
                   "MCP_HUB_USERNAME": "admin", "MCP_HUB_PASSWORD": "admin123"}
            deploy = [sys.executable, "deployment/deploy.py", "--deploy-only"]
            first = subprocess.run(deploy, cwd=ROOT / "agentic", env=env, capture_output=True, text=True,
                                   timeout=400)
            findings["deploy_without_openapi_hub"] = {"exit": first.returncode,
                                                      "stderr": _scrub(first.stderr, secrets).splitlines()}
            print("deploy.py --deploy-only (no MCP_OPENAPI_HUB_URL): exit", first.returncode)
            print("\n".join("  " + line for line in first.stderr.splitlines()))
            findings["github_processes_after_one_post"] = _github_children(proc.pid)
            print("github child processes after one POST:", findings["github_processes_after_one_post"])
            second = subprocess.run(deploy, cwd=ROOT / "agentic", env={**env,
                                    "MCP_OPENAPI_HUB_URL": sandbox.hub_url}, capture_output=True, text=True,
                                    timeout=400)
            findings["deploy_with_openapi_hub"] = {"exit": second.returncode,
                                                   "stderr": _scrub(second.stderr, secrets).splitlines()}
            print("deploy.py --deploy-only (MCP_OPENAPI_HUB_URL=our hub): exit", second.returncode)
            print("\n".join("  " + line for line in second.stderr.splitlines()))
            if first.returncode != 1 or second.returncode != 0:
                return 1
            rec("servers-connected", "GET", "/api/servers", auth="x-auth-token")
            rec("server-route-existing", "GET", "/api/servers/github", auth="x-auth-token")
            rec("duplicate-post", "POST", "/api/servers", auth="x-auth-token",
                json_body={"name": "github", "config": definitions["github"]}, body_note="the github definition")
            names, answers = asyncio.run(_mcp_names(f"{hub_url}/mcp"))
            findings["mcp_tool_names"] = sorted(names)
            findings["mcp_calls"] = {name: _scrub(text, secrets) for name, text in answers.items()}
            print(f"/mcp: {len(names)} tools, e.g. {sorted(names)[:3]}; calls: {answers}")
            if not args.no_flow:
                started = time.monotonic()
                flow = subprocess.run([sys.executable, "-m", "agentic.workflows.jules_workflow", ISSUE_URL,
                                       "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
                result = json.loads((flow.stdout.strip().splitlines() or ["{}"])[-1])
                findings["flow"] = {"exit": flow.returncode, "status": result.get("status"),
                                    "pr_url": result.get("pr_url") or result.get("pull_request_url"),
                                    "seconds": round(time.monotonic() - started, 1)}
                print("flow through mcphub:", findings["flow"])
                if flow.returncode != 0:
                    print(flow.stderr[-3000:])
                    return 1
        finally:
            proc.terminate()
            proc.wait(10)
        if args.record:
            args.record.write_text(json.dumps({
                "hub": f"mcphub {commit}", "built_from": str(args.mcphub_dir),
                "recorded_by": "tests/hub/mcphub/compat.py (scripts/mcphub_compat.sh)",
                "recorded_at": time.strftime("%Y-%m-%d", time.gmtime()),
                "exchanges": rec.entries, "findings": findings}, indent=1) + "\n")
            print("transcript written to", args.record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
