"""`python -m masivo_web bundle DEST` from an installed package, outside any checkout (issue 27):
the runtimes come from the npm registry, pinned, integrity-checked and cached, with progress on
long downloads and a clear error offline; the SDK's archive is built from the installed package.
What it writes is, byte for byte, what the checkout's bundle writes.

The first run in a clone downloads the three pinned packages from the real registry into
``.cache/masivo_web`` (kept between runs); the other scenarios serve copies of them from a
local registry, so a tampered tarball and a registry that is down are the world's conditions,
not fakes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from masivo_web.devtools import npm
from masivo_web.emulator.static import StaticServer

ROOT = Path(__file__).resolve().parents[2]
#: Kept between runs: a clone downloads the pinned packages once.
CACHE = ROOT / ".cache" / "masivo_web"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a fresh virtual environment with the built wheel and its ``bundle`` extra
    installed (no checkout on its path)."""
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(build), str(ROOT)],
        check=True,
    )
    (wheel,) = build.glob("masivo_web-*.whl")
    environment = tmp_path_factory.mktemp("env")
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{wheel}[bundle]"], check=True)
    return python


def bundle(
    python: Path, dest: Path, *options: str, cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "masivo_web", "bundle", str(dest), *options],
        cwd=cwd,  # not the checkout
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def tree(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def registry(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local npm registry (its folder) serving the pinned tarballs, laid out as the registry
    does (``<name>/-/<base>-<version>.tgz``), copied from the cache the real registry filled."""
    scratch = tmp_path_factory.mktemp("warm")
    warmed = bundle(installed, scratch / "site", cwd=scratch, MASIVO_WEB_CACHE=str(CACHE))
    assert warmed.returncode == 0, warmed.stderr
    folder = tmp_path_factory.mktemp("registry")
    for name, pin in npm.PINNED.items():
        path = folder / name / "-" / f"{name.rsplit('/', 1)[-1]}-{pin.version}.tgz"
        path.parent.mkdir(parents=True)
        shutil.copyfile(CACHE / "npm" / npm.tarball_name(name), path)
    return folder


def test_the_pins_are_the_checkouts_npm_lock() -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    manifest = json.loads((ROOT / "package.json").read_text())["dependencies"]
    assert set(npm.PINNED) == set(manifest)
    for name, pin in npm.PINNED.items():
        assert manifest[name] == pin.version
        entry = lock[f"node_modules/{name}"]
        assert (entry["version"], entry["integrity"]) == (pin.version, pin.integrity)


@pytest.mark.parametrize("options", [(), ("--precompiled",)], ids=["source", "precompiled"])
def test_an_installed_package_bundles_what_the_checkout_bundles(
    options: tuple[str, ...], installed: Path, registry: Path, tmp_path: Path
) -> None:
    with StaticServer(registry) as server:
        result = bundle(
            installed,
            tmp_path / "site",
            *options,
            cwd=tmp_path,
            MASIVO_WEB_CACHE=str(tmp_path / "cache"),
            MASIVO_WEB_NPM_REGISTRY=server.url,
        )
    assert result.returncode == 0, result.stderr
    checkout = subprocess.run(
        [sys.executable, "-m", "masivo_web", "bundle", str(tmp_path / "checkout"), *options],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    from_install, from_checkout = tree(tmp_path / "site"), tree(tmp_path / "checkout")
    assert sorted(from_install) == sorted(from_checkout)
    different = [name for name in from_install if from_install[name] != from_checkout[name]]
    assert different == []
    # The count it prints is the count on disk.
    assert result.stdout.splitlines()[0].startswith(f"{len(from_install)} files,")
    assert checkout.stdout.splitlines()[0].startswith(f"{len(from_checkout)} files,")


def test_downloads_show_progress_are_kept_and_serve_the_next_bundle_offline(
    installed: Path, registry: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    with StaticServer(registry) as server:
        first = bundle(
            installed,
            tmp_path / "one",
            cwd=tmp_path,
            MASIVO_WEB_CACHE=str(cache),
            MASIVO_WEB_NPM_REGISTRY=server.url,
        )
        dead = server.url  # nothing answers there once the block ends
    assert first.returncode == 0, first.stderr
    pin = npm.PINNED["pyodide"]
    progress = [line for line in first.stderr.splitlines() if f"pyodide {pin.version}" in line]
    assert len(progress) >= 2, first.stderr  # long downloads say how far they are
    assert progress[-1].endswith(" MB") and progress[-1].split(": ")[1].split(" of ")[0] == (
        progress[-1].split(" of ")[1].removesuffix(" MB")
    )
    kept = sorted(path.name for path in (cache / "npm").glob("*.tgz"))
    assert kept == sorted(npm.tarball_name(name) for name in npm.PINNED)
    second = bundle(
        installed,
        tmp_path / "two",
        cwd=tmp_path,
        MASIVO_WEB_CACHE=str(cache),
        MASIVO_WEB_NPM_REGISTRY=dead,
    )
    assert second.returncode == 0, second.stderr
    assert "downloading" not in second.stderr
    assert tree(tmp_path / "two") == tree(tmp_path / "one")


def test_offline_with_nothing_cached_names_what_is_missing_and_how_to_provide_it(
    installed: Path, registry: Path, tmp_path: Path
) -> None:
    with StaticServer(registry) as server:
        dead = server.url
    cache = tmp_path / "cache"
    result = bundle(
        installed,
        tmp_path / "site",
        cwd=tmp_path,
        MASIVO_WEB_CACHE=str(cache),
        MASIVO_WEB_NPM_REGISTRY=dead,
    )
    assert result.returncode == 2
    message = result.stderr
    assert "Traceback" not in message
    assert "could not download" in message and "npm pack" in message
    assert str(cache / "npm") in message
    assert not (tmp_path / "site" / "masivo-snippet.html").exists()
    # Doing what it says: the tarballs `npm pack` gives, dropped into that folder.
    (cache / "npm").mkdir(parents=True, exist_ok=True)
    for name in npm.PINNED:
        shutil.copyfile(
            CACHE / "npm" / npm.tarball_name(name), cache / "npm" / npm.tarball_name(name)
        )
    again = bundle(
        installed,
        tmp_path / "site",
        cwd=tmp_path,
        MASIVO_WEB_CACHE=str(cache),
        MASIVO_WEB_NPM_REGISTRY=dead,
    )
    assert again.returncode == 0, again.stderr


def test_a_tarball_that_is_not_the_pinned_one_is_refused_and_not_kept(
    installed: Path, registry: Path, tmp_path: Path
) -> None:
    tampered = tmp_path / "registry"
    shutil.copytree(registry, tampered)
    pin = npm.PINNED["pyodide"]
    target = tampered / "pyodide" / "-" / f"pyodide-{pin.version}.tgz"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed
    target.write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with StaticServer(tampered) as server:
        result = bundle(
            installed,
            tmp_path / "site",
            "--interpreter",
            "pyodide",
            cwd=tmp_path,
            MASIVO_WEB_CACHE=str(cache),
            MASIVO_WEB_NPM_REGISTRY=server.url,
        )
    assert result.returncode == 2
    assert f"is not the pinned pyodide {pin.version}" in result.stderr
    assert not (cache / "npm" / npm.tarball_name("pyodide")).exists()
    assert not list((cache / "npm").glob("pyodide*"))  # nothing partial either


def test_the_precompiled_build_names_the_tool_it_lacks(
    installed: Path, registry: Path, tmp_path: Path
) -> None:
    with StaticServer(registry) as server:
        result = bundle(
            installed,
            tmp_path / "site",
            "--precompiled",
            cwd=tmp_path,
            PATH=str(installed.parent),  # this environment's Python, and no Node.js
            MASIVO_WEB_CACHE=str(tmp_path / "cache"),
            MASIVO_WEB_NPM_REGISTRY=server.url,
        )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Node.js" in result.stderr and "without --precompiled" in result.stderr
