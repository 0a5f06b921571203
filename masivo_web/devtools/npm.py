"""The browser runtimes a bundle copies, as npm packages: pinned, fetched from the npm registry
once, checked against their pinned integrity, and kept in a cache.

    folder = package_folder("pyodide", cache=default_cache())

In a checkout, ``npm ci`` has already put them in ``node_modules/`` (the same pins: a unit test
keeps :data:`PINNED` equal to ``package-lock.json``), and they are read from there. From an
installed package they come from the registry (``MASIVO_WEB_NPM_REGISTRY``, else
registry.npmjs.org) into the cache folder
(``MASIVO_WEB_CACHE``, else ``$XDG_CACHE_HOME/masivo_web``, else ``~/.cache/masivo_web``), under
the names ``npm pack`` gives them: with no network, ``npm pack <name>@<version>`` elsewhere and
copy the ``.tgz`` files into ``<cache>/npm/``. A file whose hash is not the pinned one is never
used or kept.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath
from typing import NamedTuple


class Pin(NamedTuple):
    """An npm package at one version, and the integrity (``sha512-<base64>``) of its tarball."""

    version: str
    integrity: str


#: What pages load, pinned as in ``package.json``/``package-lock.json``.
PINNED = {
    "@micropython/micropython-webassembly-pyscript": Pin(
        "1.28.0-6",
        "sha512-eRJw+jOhFPoEClHRI8RmzIBjORpOhVdDFcdrNYHUc0U+EwchuD5cYIfmgvj3RWim7vBnjBK8mYxMBBVduOo8Lw==",
    ),
    "@pyscript/core": Pin(
        "0.7.31",
        "sha512-GqM1aonc1N4RTkNZ1zJ8jJk8+i2cqeztZslPsAiQtn+wHHkUX9Z1FgIg4HjCvhBylB68UKmbTVTzOobpgPIMVQ==",
    ),
    "pyodide": Pin(
        "314.0.7",
        "sha512-0YvXxEhfEdpLfb/XkM2BFAeMROq0iMUX2bzzH9pOttyMcWkwq+HbE5uyuGD82LN7y2q+SNvi/6V5JEsOlD2R1A==",
    ),
}
DEFAULT_REGISTRY = "https://registry.npmjs.org"
#: Downloads larger than this print their progress (on stderr).
PROGRESS_FROM_BYTES = 1_000_000
#: A checkout's ``node_modules`` (absent in an installed package).
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"


class RuntimeDownloadError(RuntimeError):
    """A pinned package could not be had: not cached, and the registry did not give it (or gave
    other bytes than the pinned ones). The message says which and how to provide it."""


def default_cache() -> Path:
    """Where downloaded packages are kept between runs."""
    if "MASIVO_WEB_CACHE" in os.environ:
        return Path(os.environ["MASIVO_WEB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "masivo_web"


def registry() -> str:
    """The npm registry to download from."""
    return (os.environ.get("MASIVO_WEB_NPM_REGISTRY") or DEFAULT_REGISTRY).rstrip("/")


def tarball_name(name: str) -> str:
    """The file name ``npm pack`` gives the pinned version of ``name``."""
    return f"{name.lstrip('@').replace('/', '-')}-{PINNED[name].version}.tgz"


def package_folder(name: str, cache: Path) -> Path:
    """The folder holding the pinned version of ``name``: a checkout's ``node_modules/<name>``
    when it holds that version, else the tarball unpacked in the cache (once)."""
    installed = NODE_MODULES / name
    manifest = installed / "package.json"
    if manifest.exists() and json.loads(manifest.read_text())["version"] == PINNED[name].version:
        return installed
    folder = cache / "npm" / tarball_name(name).removesuffix(".tgz")
    done = folder / ".unpacked"
    if not done.exists():
        data = tarball(name, cache)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive.getmembers():
                # every npm tarball has its files under package/; nothing may land outside
                path = PurePosixPath(member.name.split("/", 1)[-1])
                source = archive.extractfile(member) if member.isfile() else None
                if source is None or path.is_absolute() or ".." in path.parts:
                    continue
                target = folder.joinpath(*path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(source.read())
        done.write_text(PINNED[name].integrity)
    return folder


def tarball(name: str, cache: Path) -> bytes:
    """The pinned tarball of ``name``, checked: from the cache, else downloaded into it."""
    pin = PINNED[name]
    kept = cache / "npm" / tarball_name(name)
    if kept.exists():
        data = kept.read_bytes()
        if _integrity(data) == pin.integrity:
            return data
        kept.unlink()  # damaged or another file under this name: fetched again
    url = f"{registry()}/{name}/-/{name.rsplit('/', 1)[-1]}-{pin.version}.tgz"
    try:
        data = _download(url, f"{name} {pin.version}")
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        raise RuntimeDownloadError(
            f"could not download {name} {pin.version} ({url}: {_reason(exc)}), and it is not in "
            f"the cache. With no network: run `npm pack {name}@{pin.version}` where there is "
            f"one and copy {tarball_name(name)} into {kept.parent}/ (or set "
            "MASIVO_WEB_NPM_REGISTRY to a registry you can reach)."
        ) from None
    if _integrity(data) != pin.integrity:
        raise RuntimeDownloadError(
            f"{url} is not the pinned {name} {pin.version}: its sha512 differs from "
            f"{pin.integrity}. Nothing was kept; check the registry (MASIVO_WEB_NPM_REGISTRY)."
        )
    kept.parent.mkdir(parents=True, exist_ok=True)
    partial = kept.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(kept)  # whole or absent, even if two bundles run at once
    return data


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return str(reason) or type(exc).__name__


def _download(url: str, label: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0)
        chunks: list[bytes] = []
        received, shown = 0, -1
        while chunk := response.read(256 * 1024):
            chunks.append(chunk)
            received += len(chunk)
            if total >= PROGRESS_FROM_BYTES and received * 10 // total > shown:
                shown = received * 10 // total
                print(
                    f"downloading {label}: {received / 1e6:.1f} of {total / 1e6:.1f} MB",
                    file=sys.stderr,
                    flush=True,
                )
        return b"".join(chunks)
