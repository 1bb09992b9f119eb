"""The offline image kit (`ibt images build`): every image a compose file names, used when present, else built.

Users with a registry pull the official images (`docker compose pull`); where none is reachable the kit builds each
missing one under the same tag, from Debian packages, PyPI and npm only:
- images a compose service builds itself (`build:`, e.g. `ibt-app:local`) from that Dockerfile and context;
- the third-party images the stacks use (`postgres:15`, `prefecthq/prefect:<v>-python3.11`, `caddy:2`,
  `python:3.11-slim`) from the stand-ins in `stacks/images/<name>/`, which honour what the compose files rely on;
- their base, `debian:bookworm-slim`, from `debootstrap --variant=minbase` imported into the engine.
Each built image carries a label with the hash of its inputs (Dockerfile, build context, build args, its parent's
hash): an image whose label matches is reused, one that differs is rebuilt, and an image without the label (an
official one, pulled) is used as it is. Images named by no recipe (`samanhappy/mcphub`) must be pulled.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from agentic.errors import ConfigError
from agentic.stacks.compose import load_compose_file

LABEL = "org.ibt.inputs"
BASE_TAG = "debian:bookworm-slim"
DEBIAN_MIRROR = os.environ.get("IBT_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# Bump to rebuild the base (the debootstrap call below and the local CAs are its only inputs).
BASE_RECIPE = f"debootstrap --variant=minbase bookworm {DEBIAN_MIRROR} (1)"
# This machine's own certificate authorities (a TLS-inspecting proxy's, a private mirror's) go into the base, where
# Debian's ca-certificates picks them up: builds then reach PyPI and npm as the host does.
LOCAL_CAS = Path(os.environ.get("IBT_BUILD_CA_DIR", "/usr/local/share/ca-certificates"))


@dataclass(frozen=True)
class Recipe:
    """How to make one tag: a Dockerfile and its context, or (dockerfile None) the debootstrap base."""

    tag: str
    dockerfile: Path | None = None
    context: Path | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    parent: str | None = None  # the tag the Dockerfile starts FROM, when this kit can make it

    @property
    def is_base(self) -> bool:
        return self.dockerfile is None


@dataclass
class ImageStatus:
    tag: str
    state: str  # "current" | "provided" (no kit label: pulled) | "missing" | "stale" | "no recipe"
    recipe: Recipe | None = None
    inputs: str = ""


@dataclass
class Kit:
    """The recipes of every image that `stacks_dir`'s compose files name, by tag."""

    stacks_dir: Path
    recipes: dict[str, Recipe] = field(default_factory=dict)
    named: dict[str, list[str]] = field(default_factory=dict)  # tag -> the compose files that name it

    @classmethod
    def load(cls, stacks_dir: Path, files: Iterable[Path] | None = None) -> Kit:
        kit = cls(stacks_dir.resolve())
        for path in sorted(files if files is not None else compose_files(stacks_dir)):
            services = load_compose_file(path).get("services") or {}
            for service in services.values():
                tag = service.get("image")
                build = service.get("build")
                if build is not None:
                    recipe = kit._from_compose_build(path, tag, build)
                    tag = recipe.tag
                    kit.recipes.setdefault(tag, recipe)
                where = str(path.relative_to(kit.stacks_dir.parent))
                if tag and where not in kit.named.setdefault(tag, []):
                    kit.named[tag].append(where)
        for tag in list(kit.named):
            kit._add_chain(tag)
        return kit

    def _from_compose_build(self, path: Path, tag: str | None, build: str | dict[str, object]) -> Recipe:
        spec = {"context": build} if isinstance(build, str) else dict(build)
        context = (path.parent / str(spec.get("context", "."))).resolve()
        dockerfile = (context / str(spec.get("dockerfile", "Dockerfile"))).resolve()
        if not tag:
            raise ConfigError(f"{path}: a service with `build:` needs an `image:` tag for the kit to build it under")
        args = spec.get("args") or {}
        pairs = args.items() if isinstance(args, dict) else (str(a).split("=", 1) for a in args)  # type: ignore[union-attr]
        return Recipe(tag, dockerfile, context, tuple(sorted((str(k), str(v)) for k, v in pairs)),
                      parent=_from_tag(dockerfile))

    def _add_chain(self, tag: str) -> None:
        """`tag`'s recipe (a stand-in unless a compose file builds it) and its parents', up the FROM chain."""
        if tag not in self.recipes:
            recipe = stand_in(tag, self.stacks_dir)
            if recipe is None:
                return
            self.recipes[tag] = recipe
        if self.recipes[tag].parent:
            self._add_chain(self.recipes[tag].parent)

    def order(self, tags: Iterable[str]) -> list[str]:
        """`tags` and the parents the kit makes, parents first, each once."""
        out: list[str] = []

        def visit(tag: str) -> None:
            if tag in out:
                return
            recipe = self.recipes.get(tag)
            if recipe and recipe.parent and recipe.parent in self.recipes:
                visit(recipe.parent)
            out.append(tag)

        for tag in tags:
            visit(tag)
        return out

    def inputs_hash(self, tag: str) -> str:
        """What the image is made of, as one hash; a parent's hash is part of its children's."""
        recipe = self.recipes[tag]
        digest = hashlib.sha256(f"{tag}\n".encode())
        if recipe.is_base:
            digest.update(BASE_RECIPE.encode())
            for cert in sorted(LOCAL_CAS.glob("*.crt")):
                digest.update(cert.read_bytes())
            return digest.hexdigest()[:16]
        assert recipe.dockerfile is not None and recipe.context is not None
        digest.update(json.dumps(recipe.build_args).encode())
        digest.update(recipe.dockerfile.read_bytes())
        for path in context_files(recipe.context):
            digest.update(str(path.relative_to(recipe.context)).encode() + b"\0")
            digest.update(path.read_bytes() if not path.is_symlink() else os.readlink(path).encode())
        if recipe.parent in self.recipes:
            digest.update(self.inputs_hash(recipe.parent).encode())
        return digest.hexdigest()[:16]


def compose_files(stacks_dir: Path) -> list[Path]:
    return sorted(p for p in stacks_dir.glob("*/*.yaml") if "services:" in p.read_text())


def stand_in(tag: str, stacks_dir: Path) -> Recipe | None:
    """The kit's recipe for a third-party tag, or None when it has none."""
    images = stacks_dir / "images"
    if tag == BASE_TAG:
        return Recipe(tag)
    fixed = {"python:3.11-slim": "python", "postgres:15": "postgres", "caddy:2": "caddy"}
    if tag in fixed:
        folder = images / fixed[tag]
        return Recipe(tag, folder / "Dockerfile", folder, parent=_from_tag(folder / "Dockerfile"))
    prefect = re.fullmatch(r"prefecthq/prefect:(\d+\.\d+\.\d+)-python3\.11", tag)
    if prefect:
        folder = images / "prefect"
        return Recipe(tag, folder / "Dockerfile", folder, (("PREFECT_VERSION", prefect.group(1)),),
                      parent=_from_tag(folder / "Dockerfile"))
    return None


def _from_tag(dockerfile: Path) -> str | None:
    for line in dockerfile.read_text().splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].upper() == "FROM":
            return words[1]
    return None


def context_files(context: Path) -> list[Path]:
    """The files `docker build` sends for `context`, minus its `.dockerignore` (the patterns this repo uses)."""
    ignore = context / ".dockerignore"
    patterns = [line.strip() for line in ignore.read_text().splitlines()
                if line.strip() and not line.startswith("#")] if ignore.exists() else []

    def ignored(rel: str) -> bool:  # Docker's rules: patterns from the context root; `**/` matches at any depth
        for pattern in patterns:
            if pattern.startswith("**/"):
                if any(fnmatch.fnmatch(part, pattern[3:]) for part in rel.split("/")):
                    return True
            elif fnmatch.fnmatch(rel, pattern.rstrip("/")):
                return True
        return False

    out: list[Path] = []
    for root, dirs, files in os.walk(context):
        rel_root = os.path.relpath(root, context)
        rel_root = "" if rel_root == "." else rel_root + "/"
        dirs[:] = sorted(d for d in dirs if not ignored(rel_root + d))
        out += [Path(root) / f for f in sorted(files) if not ignored(rel_root + f)]
    return out


def docker_labels(tag: str) -> dict[str, str] | None:
    """The image's labels, or None when the engine has no image of that tag."""
    proc = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", tag],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout.strip() or "null") or {}


def status(kit: Kit, tags: Iterable[str]) -> list[ImageStatus]:
    out = []
    for tag in kit.order(tags):
        recipe = kit.recipes.get(tag)
        labels = docker_labels(tag)
        inputs = kit.inputs_hash(tag) if recipe else ""
        if labels is not None and LABEL not in labels:
            state = "provided"
        elif labels is not None and labels[LABEL] == inputs:
            state = "current"
        elif recipe is None:
            state = "no recipe"
        else:
            state = "missing" if labels is None else "stale"
        out.append(ImageStatus(tag, state, recipe, inputs))
    return out


def build(kit: Kit, tags: Iterable[str], *, force: bool = False, strict: bool = True,
          say: Callable[[str], None] = print) -> list[ImageStatus]:
    """Make every missing or stale image of `tags` (and the parents they need); the images' statuses after.

    Images whose parents are ready build side by side (they mostly wait on package downloads); each build's output
    goes to a log file, named when it fails."""
    wanted = list(tags)
    todo: dict[str, ImageStatus] = {}
    for item in status(kit, wanted):
        if item.state == "no recipe":
            message = (f"{item.tag}: not on this engine and the kit has no recipe for it (named in "
                       f"{', '.join(kit.named.get(item.tag, ['?']))}); pull it where a registry is reachable")
            if strict:
                raise ConfigError(message)
            say(f"{message}: skipped")
        elif item.state == "provided" or (item.state == "current" and not force):
            say(f"{item.tag}: {item.state}")
        else:
            todo[item.tag] = item
    logs = Path(tempfile.mkdtemp(prefix="ibt-images-"))
    while todo:
        ready = [item for item in todo.values()
                 if not (item.recipe and item.recipe.parent in todo)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {pool.submit(_make, item, logs, say): item for item in ready}
            errors = [str(f.exception()) for f in futures if f.exception() is not None]
        if errors:
            raise ConfigError("; ".join(errors))
        for item in ready:
            del todo[item.tag]
    return status(kit, wanted)


def _make(item: ImageStatus, logs: Path, say: Callable[[str], None]) -> None:
    assert item.recipe is not None
    log = logs / (re.sub(r"[^\w.-]+", "_", item.tag) + ".log")
    say(f"{item.tag}: {item.state}, building ({item.inputs}; log {log})")
    started = time.monotonic()
    with open(log, "w") as out:
        try:
            if item.recipe.is_base:
                _build_base(item.tag, item.inputs, out)
            else:
                _docker_build(item.recipe, item.inputs, out)
        except ConfigError as exc:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise ConfigError(f"{item.tag}: {exc}\n{tail}") from None
    say(f"{item.tag}: built in {time.monotonic() - started:.0f} s")


def _docker_build(recipe: Recipe, inputs: str, out: IO[str]) -> None:
    assert recipe.dockerfile is not None and recipe.context is not None
    argv = ["docker", "build", "--label", f"{LABEL}={inputs}", "-t", recipe.tag, "-f", str(recipe.dockerfile)]
    for key, value in recipe.build_args:
        argv += ["--build-arg", f"{key}={value}"]
    # The classic builder: BuildKit needs the buildx plugin, which Debian's engine does not ship. Its parents are
    # local (built first), so nothing is pulled.
    _run([*argv, str(recipe.context)], out, env={**os.environ, "DOCKER_BUILDKIT": "0"})


def _build_base(tag: str, inputs: str, out: IO[str]) -> None:
    if shutil.which("debootstrap") is None:
        raise ConfigError(f"{tag}: needs debootstrap to build the base image offline (apt-get install debootstrap), "
                          f"or pull it: docker pull {tag}")
    with tempfile.TemporaryDirectory(prefix="ibt-rootfs-", dir=os.environ.get("IBT_ROOTFS_DIR")) as root:
        _run(["debootstrap", "--variant=minbase", "bookworm", root, DEBIAN_MIRROR], out)
        # Slim like the official image: no apt lists, caches or docs.
        for junk in ("var/lib/apt/lists", "var/cache/apt/archives", "usr/share/doc", "usr/share/man"):
            shutil.rmtree(Path(root) / junk, ignore_errors=True)
            (Path(root) / junk).mkdir(parents=True, exist_ok=True)
        cas = Path(root) / "usr/local/share/ca-certificates"
        cas.mkdir(parents=True, exist_ok=True)
        for cert in sorted(LOCAL_CAS.glob("*.crt")):
            shutil.copy(cert, cas / cert.name)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        try:
            _run(["docker", "import", "--change", 'CMD ["bash"]', "--change", f"LABEL {LABEL}={inputs}", "-",
                  tag], out, stdin=tar.stdout)
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait()


def _run(argv: list[str], out: IO[str], **kwargs: object) -> None:
    proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise ConfigError(f"`{' '.join(argv[:3])} …` failed (exit {proc.returncode})")


def stack_images(files: Iterable[Path], stacks_dir: Path) -> list[str]:
    """The tags the given compose files name, in file order."""
    kit = Kit.load(stacks_dir, files)
    return list(kit.named)
