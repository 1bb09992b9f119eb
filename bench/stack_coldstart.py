"""Cold start and memory of the native and Docker stacks, against a bare `prefect server start` in the same run.

    .venv/bin/python bench/stack_coldstart.py [--stacks prefect mcp-hub] [--repeat 3] [--no-docker]

For each round, in a fresh state directory on free ports:
  * baseline   `python -m prefect server start` on its default SQLite, fresh PREFECT_HOME, until /api/health answers
  * ibt cold   `ibt stacks run <stacks> --native`: initdb + migrations + every service healthy (Docker-less first run)
  * ibt warm   the same command again on the existing state (what every later start costs)
  * docker cold  `docker compose -p ibt-bench -f stacks/<s>/<s>.local.yaml ... up -d --wait` on fresh volumes
                 (`down -v` first): time until Prefect's /api/health and the hub's /health both answer
  * docker warm  `down` (containers and network removed, volumes kept), then the same `up` again
Memory is summed once healthy: for processes (psutil) RSS (what the issue's goal counts; shared pages counted once
per process) and PSS (shared pages split between processes: the honest total). For the containers, the same RSS and
PSS over every process of each container's cgroup, plus the cgroup's own usage (memory.usage_in_bytes, page cache
included) and `docker stats`' figure (that usage minus inactive page cache). Image sizes: `docker image inspect`
Size of each image the compose files name, and their total with shared layers counted once.
Docker rows are skipped, with a line saying why, when no engine with the compose plugin answers or an image is
missing (the bench never pulls or builds: `ibt images build` makes them). Other sessions' project `ibt` and its
fixed ports are never touched: own project name (--project), free ports via IBT_PORT_*, its own state directory.
Goal (issue #3): full stack healthy in <= 15 s, <= 600 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agentic.stacks.docker import docker_available  # noqa: E402
from agentic.stacks.ports import free_port  # noqa: E402

GOAL_SECONDS, GOAL_MB = 15.0, 600.0


def tree_memory(pid: int) -> tuple[float, float]:
    """(RSS MB, PSS MB) summed over `pid` and all its descendants."""
    rss = pss = 0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
            rss, pss = rss + info.rss, pss + getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return rss / 2**20, pss / 2**20


def wait_healthy(check, proc: subprocess.Popen, timeout: float = 180) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        if proc.poll() is not None:
            raise SystemExit(f"process exited with {proc.returncode} before becoming healthy")
        time.sleep(0.05)
    raise SystemExit("not healthy in time")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def run_ibt(stacks: list[str], state: Path, env: dict[str, str]) -> dict:
    run_file = state / "run" / "stack.json"

    def healthy() -> bool:
        try:
            return json.loads(run_file.read_text())["status"] == "healthy"
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return False

    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "agentic.cli", "stacks", "run", *stacks, "--native",
                             "--state-dir", str(state)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_healthy(healthy, proc)
        seconds = time.monotonic() - t0
        time.sleep(2)  # let background services settle before measuring memory
        rss, pss = tree_memory(proc.pid)
    finally:
        stop(proc)
    return {"seconds": seconds, "rss_mb": rss, "pss_mb": pss}


def run_baseline(env: dict[str, str]) -> dict:
    home = Path(tempfile.mkdtemp(prefix="bench-prefect-"))
    port = free_port()
    env = {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_DATABASE_CONNECTION_URL", None)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                             str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)

    def healthy() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_healthy(healthy, proc)
        seconds = time.monotonic() - t0
        time.sleep(2)
        rss, pss = tree_memory(proc.pid)
    finally:
        stop(proc)
        shutil.rmtree(home, ignore_errors=True)
    return {"seconds": seconds, "rss_mb": rss, "pss_mb": pss}


# --- Docker -------------------------------------------------------------------------------------------------------

HEALTH = {"prefect": ("IBT_PORT_PREFECT", "/api/health"), "mcp-hub": ("IBT_PORT_MCP_HUB", "/health")}
CGROUP_V1, CGROUP_V2 = Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup")


def compose_files(stacks: list[str]) -> list[Path]:
    files = []
    for name in stacks:
        local = ROOT / "stacks" / name / f"{name}.local.yaml"
        files.append(local if local.exists() else ROOT / "stacks" / name / f"{name}.yaml")
    return files


def compose(files: list[Path], project: str) -> list[str]:
    return ["docker", "compose", "-p", project, *(arg for f in files for arg in ("-f", str(f)))]


def docker_skip_reason(files: list[Path], project: str, env: dict[str, str]) -> str | None:
    """None when the Docker rows can run; else why not (no engine, a missing image: we never pull or build)."""
    if not docker_available():
        return "no Docker engine with the compose plugin answers"
    proc = subprocess.run([*compose(files, project), "config", "--images"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        return f"`docker compose config` failed: {proc.stderr.strip()[-300:]}"
    missing = [tag for tag in proc.stdout.split() if subprocess.run(
        ["docker", "image", "inspect", tag], capture_output=True).returncode != 0]
    if missing:
        return f"image(s) not on this machine: {', '.join(missing)} (`ibt images build` makes them; no pull here)"
    return None


def image_sizes(files: list[Path], project: str, env: dict[str, str]) -> dict:
    """Each image's Size (`docker image inspect`), and the total with layers shared between them counted once
    (from the engine's layer store when readable, else None)."""
    tags = list(dict.fromkeys(subprocess.run([*compose(files, project), "config", "--images"], env=env,
                                             capture_output=True, text=True, check=True).stdout.split()))
    images, layers = {}, {}
    for tag in tags:
        info = json.loads(subprocess.run(["docker", "image", "inspect", tag], capture_output=True, text=True,
                                         check=True).stdout)[0]
        images[tag] = info["Size"] / 1e6
        chain = ""
        for diff in info["RootFS"]["Layers"]:  # chain ids name the layer store's entries
            chain = diff if not chain else "sha256:" + hashlib.sha256(f"{chain} {diff}".encode()).hexdigest()
            layers[chain] = None
    store = Path("/var/lib/docker/image") / json.loads(subprocess.run(
        ["docker", "info", "--format", "{{json .Driver}}"], capture_output=True, text=True).stdout or '""') / "layerdb"
    try:
        total = sum(int((store / chain.replace(":", "/") / "size").read_text()) for chain in layers) / 1e6
    except (OSError, ValueError):
        total = None
    return {"images_mb": images, "sum_mb": sum(images.values()), "distinct_layers_mb": total}


def container_memory(project: str) -> dict:
    """Per service: RSS and PSS (psutil) over the container's processes, its cgroup usage, and `docker stats`'
    figure (usage - inactive file cache, as the CLI computes it). MB."""
    ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                          f"label=com.docker.compose.project={project}"], capture_output=True, text=True,
                         check=True).stdout.split()
    services = {}
    for cid in ids:
        name = subprocess.run(["docker", "inspect", "--format", '{{index .Config.Labels "com.docker.compose.service"}}',
                               cid], capture_output=True, text=True, check=True).stdout.strip()
        row = {"rss_mb": 0.0, "pss_mb": 0.0, "cgroup_mb": None, "stats_mb": None}
        v1, v2 = CGROUP_V1 / "docker" / cid, CGROUP_V2 / "system.slice" / f"docker-{cid}.scope"
        cgroup = v1 if v1.exists() else v2 if v2.exists() else CGROUP_V2 / "docker" / cid
        try:
            stat = dict(line.split() for line in (cgroup / "memory.stat").read_text().splitlines())
            if cgroup == v1:
                usage, inactive = int((cgroup / "memory.usage_in_bytes").read_text()), int(stat["total_inactive_file"])
            else:
                usage, inactive = int((cgroup / "memory.current").read_text()), int(stat["inactive_file"])
            row["cgroup_mb"], row["stats_mb"] = usage / 2**20, (usage - inactive) / 2**20
            pids = [int(p) for p in (cgroup / "cgroup.procs").read_text().split()]
        except (OSError, KeyError, ValueError):
            pids = [int(p) for p in subprocess.run(["docker", "top", cid, "-eo", "pid"], capture_output=True,
                                                    text=True).stdout.split()[1:]]
        if row["stats_mb"] is None:  # no readable cgroup: what `docker stats --no-stream` prints
            raw = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", cid],
                                 capture_output=True, text=True).stdout.split("/")[0].strip()
            units = {"B": 1 / 2**20, "KiB": 1 / 2**10, "MiB": 1, "GiB": 2**10}
            unit = next((u for u in sorted(units, key=len, reverse=True) if raw.endswith(u)), None)
            row["stats_mb"] = float(raw[:-len(unit)]) * units[unit] if unit else None
        for pid in pids:
            try:
                info = psutil.Process(pid).memory_full_info()
                row["rss_mb"] += info.rss / 2**20
                row["pss_mb"] += getattr(info, "pss", info.rss) / 2**20
            except psutil.Error:
                pass
        # Host side, outside the cgroup: the container's containerd shim and the docker-proxy of each published port
        # (dockerd and containerd themselves serve every container on the machine: not counted).
        info = json.loads(subprocess.run(["docker", "inspect", cid], capture_output=True, text=True,
                                         check=True).stdout)[0]
        ips = {net["IPAddress"] for net in info["NetworkSettings"]["Networks"].values()}
        host = []
        try:
            host.append(psutil.Process(info["State"]["Pid"]).parent())
        except (psutil.Error, TypeError):
            pass
        for proc in psutil.process_iter(["name", "cmdline"]):
            cmd = proc.info["cmdline"] or []
            if proc.info["name"] == "docker-proxy" and "-container-ip" in cmd and \
                    cmd[cmd.index("-container-ip") + 1] in ips:
                host.append(proc)
        row["host_rss_mb"] = row["host_pss_mb"] = 0.0
        for proc in filter(None, host):
            try:
                mem = proc.memory_full_info()
                row["host_rss_mb"] += mem.rss / 2**20
                row["host_pss_mb"] += getattr(mem, "pss", mem.rss) / 2**20
            except psutil.Error:
                pass
        services[name] = row
    return services


def run_docker(files: list[Path], project: str, env: dict[str, str], stacks: list[str], *, fresh: bool) -> dict:
    """`up -d --wait` after `down -v` (fresh: new volumes) or `down` (warm: volumes kept); seconds until every known
    health endpoint answers, and until `up --wait` returned (Docker's own healthchecks, polled every 3 s)."""
    base = compose(files, project)
    subprocess.run([*base, "down", "--remove-orphans", *(["-v"] if fresh else [])], env=env, capture_output=True,
                   timeout=300, check=True)
    urls = [f"http://127.0.0.1:{env[HEALTH[s][0]]}{HEALTH[s][1]}" for s in stacks if s in HEALTH]
    pending = set(urls)
    log = tempfile.TemporaryFile("w+")  # compose's progress lines, shown if `up` fails
    t0 = time.monotonic()
    proc = subprocess.Popen([*base, "up", "-d", "--wait", "--pull", "never", "--no-build"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True)

    def failed() -> SystemExit:
        log.seek(0)
        return SystemExit(f"docker compose up exited {proc.returncode}: {log.read()[-2000:]}")

    with log, httpx.Client(timeout=1) as client:
        while pending and time.monotonic() - t0 < 300:
            for url in list(pending):
                try:
                    if client.get(url).status_code == 200:
                        pending.discard(url)
                except httpx.HTTPError:
                    pass
            if pending and proc.poll() not in (None, 0):
                raise failed()
            time.sleep(0.05)
        if pending:
            raise SystemExit(f"not healthy in time: {sorted(pending)}")
        seconds = time.monotonic() - t0
        if proc.wait(timeout=300) != 0:
            raise failed()
    up_seconds = time.monotonic() - t0
    time.sleep(2)  # as for the processes: let background services settle before measuring memory
    services = container_memory(project)
    total = {k: sum(row[k] or 0 for row in services.values())
             for k in ("rss_mb", "pss_mb", "cgroup_mb", "stats_mb", "host_rss_mb", "host_pss_mb")}
    return {"seconds": seconds, "up_wait_seconds": up_seconds, **total, "services": services}


def docker_down(files: list[Path], project: str, env: dict[str, str]) -> None:
    """Our own project only, volumes included."""
    subprocess.run([*compose(files, project), "down", "-v", "--remove-orphans"], env=env, capture_output=True,
                   timeout=300)


def spread(runs: list[dict], key: str) -> dict:
    values = [r[key] for r in runs if r.get(key) is not None]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)} if values else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", nargs="+", default=["prefect", "mcp-hub"])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-docker", action="store_true", help="skip the Docker rows")
    parser.add_argument("--project", default="ibt-bench", help="compose project name of the Docker rows (never `ibt`)")
    args = parser.parse_args()
    if args.project in ("ibt", "ibt-production"):
        parser.error(f"--project {args.project} is the developer's own stack: pick another name")

    files = compose_files(args.stacks)
    env0 = {k: v for k, v in os.environ.items() if not k.startswith("IBT_")}
    skip = "--no-docker" if args.no_docker else docker_skip_reason(files, args.project, env0)
    images = None if skip else image_sizes(files, args.project, env0)

    results: dict[str, list[dict]] = {"baseline": [], "ibt cold": [], "ibt warm": []}
    if not skip:
        results.update({"docker cold": [], "docker warm": []})
    loads = []  # 1/5/15-minute load average as each round starts
    for _ in range(args.repeat):
        state = Path(tempfile.mkdtemp(prefix="bench-ibt-"))
        os.chmod(state, 0o755)  # PostgreSQL runs as `postgres` when we are root
        names = ["postgres", "prefect", "mcp-hub", "github-sim", "jules-sim", "triggers"]
        env = dict(env0)
        env.update({f"IBT_PORT_{n.upper().replace('-', '_')}": str(free_port()) for n in names})
        loads.append(os.getloadavg())
        try:
            results["baseline"].append(run_baseline(env))
            results["ibt cold"].append(run_ibt(args.stacks, state, env))
            results["ibt warm"].append(run_ibt(args.stacks, state, env))
            if not skip:  # own state dir (the hub's /data) and fresh ports: nothing shared with the native runs
                denv = {**env, "IBT_STATE": str(state / "docker")}
                denv.update({f"IBT_PORT_{n.upper().replace('-', '_')}": str(free_port()) for n in names})
                try:
                    results["docker cold"].append(run_docker(files, args.project, denv, args.stacks, fresh=True))
                    results["docker warm"].append(run_docker(files, args.project, denv, args.stacks, fresh=False))
                finally:
                    docker_down(files, args.project, denv)
        finally:
            shutil.rmtree(state, ignore_errors=True)

    keys = ["seconds", "up_wait_seconds", "rss_mb", "pss_mb", "cgroup_mb", "stats_mb", "host_rss_mb", "host_pss_mb"]
    stats = {name: {k: spread(runs, k) for k in keys if spread(runs, k)} for name, runs in results.items()}
    summary = {name: {k: v["median"] for k, v in row.items()} for name, row in stats.items()}
    base = summary["baseline"]
    load = os.getloadavg()
    print(f"stack: {' '.join(args.stacks)}   rounds: {args.repeat}   cpus: {os.cpu_count()}   "
          f"load average (1 min) at each round's start: {' '.join(f'{x[0]:.1f}' for x in loads)}, "
          f"at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'':12} {'healthy s (min-max)':>22} {'RSS MB':>7} {'PSS MB':>7} {'cgroup MB':>9} {'stats MB':>8} "
          f"{'time x':>7} {'RSS x':>6} {'PSS x':>6}")
    for name, row in summary.items():
        sec = stats[name]["seconds"]
        cg = f"{row['cgroup_mb']:9.0f}" if "cgroup_mb" in row else f"{'-':>9}"
        st = f"{row['stats_mb']:8.0f}" if "stats_mb" in row else f"{'-':>8}"
        print(f"{name:12} {sec['median']:8.1f} ({sec['min']:5.1f}-{sec['max']:5.1f}) {row['rss_mb']:7.0f} "
              f"{row['pss_mb']:7.0f} {cg} {st} {row['seconds'] / base['seconds']:7.2f} "
              f"{row['rss_mb'] / base['rss_mb']:6.2f} {row['pss_mb'] / base['pss_mb']:6.2f}")
    if skip:
        print(f"docker rows skipped: {skip}")
    else:
        for name in ("docker cold", "docker warm"):
            up = stats[name]["up_wait_seconds"]
            print(f"{name}: `up --wait` returned after {up['median']:.1f} s ({up['min']:.1f}-{up['max']:.1f}); "
                  f"outside the containers (shims, docker-proxy): {summary[name]['host_rss_mb']:.0f} MB RSS, "
                  f"{summary[name]['host_pss_mb']:.0f} MB PSS")
        print("images: " + ", ".join(f"{tag} {mb:.0f} MB" for tag, mb in images["images_mb"].items())
              + f"; sum {images['sum_mb']:.0f} MB"
              + (f", shared layers once {images['distinct_layers_mb']:.0f} MB" if images["distinct_layers_mb"] else ""))
    cold = summary["ibt cold"]
    ok = cold["seconds"] <= GOAL_SECONDS and cold["rss_mb"] <= GOAL_MB
    print(f"goal (native cold <= {GOAL_SECONDS:.0f} s, RSS <= {GOAL_MB:.0f} MB): {'met' if ok else 'NOT met'}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "stack_coldstart.json").write_text(json.dumps({
        "stacks": args.stacks, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpus": os.cpu_count(),
        "load_average_rounds": loads, "load_average_end": load, "docker_skipped": skip,
        "docker_project": args.project, "images": images,
        "runs": results, "spread": stats, "median": summary}, indent=2))

if __name__ == "__main__":
    main()
