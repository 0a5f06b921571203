"""The page wheels (tools/page_build.py), built here with CPython.

The browser tests install the real ones in Chromium (the precompiled one is made by Pyodide's
own Python); these check the mechanism on the host interpreter: a bytecode wheel tagged for the
Python that made it, whose modules import without their source and keep their line numbers.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import traceback
import zipfile
from pathlib import Path
from types import CodeType

import pytest

from masivo_web.devtools.page_build import bytecode
from masivo_web.devtools.page_build import wheel as page_build

ROOT = Path(__file__).resolve().parents[2]


def _all_code(code: CodeType) -> list[CodeType]:
    found = [code]
    for const in code.co_consts:
        if isinstance(const, CodeType):
            found += _all_code(const)
    return found


def test_without_columns_keeps_every_line_number_and_drops_the_columns() -> None:
    for path in sorted((ROOT / "masivo_web").rglob("*.py")):
        code = compile(path.read_text(), str(path), "exec", dont_inherit=True)
        compact = bytecode.without_columns(code)
        for before, after in zip(_all_code(code), _all_code(compact), strict=True):
            assert list(after.co_lines()) == list(before.co_lines()), path
            assert all(col is None for _, _, col, _ in after.co_positions()), path
            assert len(after.co_linetable) <= len(before.co_linetable)


def test_a_traceback_through_column_free_code_names_the_right_line() -> None:
    source = "def outer():\n    return inner()\n\n\ndef inner():\n    x = 1\n    return x / 0\n"
    namespace: dict[str, object] = {}
    exec(bytecode.without_columns(compile(source, "module.py", "exec")), namespace)
    with pytest.raises(ZeroDivisionError) as caught:
        namespace["outer"]()  # type: ignore[operator]
    frames = traceback.extract_tb(caught.value.__traceback__)
    assert [(frame.name, frame.lineno) for frame in frames[-2:]] == [("outer", 2), ("inner", 7)]


@pytest.fixture(scope="module")
def page_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--wheel-dir", str(build), str(ROOT)),
        ],
        check=True,
    )
    (full,) = build.glob("masivo_web-*.whl")
    return page_build.build(full, tmp_path_factory.mktemp("page"))


def test_the_precompiled_wheel_is_bytecode_for_its_python_and_imports_without_source(
    page_wheel: Path, tmp_path: Path
) -> None:
    wheel = bytecode.precompile(page_wheel, tmp_path)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}-none-any"
    assert wheel.name.endswith(f"-{tag}.whl")
    with zipfile.ZipFile(page_wheel) as source, zipfile.ZipFile(wheel) as built:
        modules = {name for name in source.namelist() if name.endswith(".py")}
        names = set(built.namelist())
        assert {name + "c" for name in modules} <= names
        assert not any(name.endswith(".py") for name in names)
        (wheel_file,) = (name for name in names if name.endswith(".dist-info/WHEEL"))
        assert f"Tag: {tag}" in built.read(wheel_file).decode()
        (record_file,) = (name for name in names if name.endswith(".dist-info/RECORD"))
        for line in built.read(record_file).decode().splitlines():
            name, digest, size = line.rsplit(",", 2)
            if name == record_file:
                continue
            data = built.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert (digest, int(size)) == (f"sha256={expected.decode()}", len(data)), name
        built.extractall(tmp_path / "site")
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            # The page build refuses CPython (next test): pose as the page's interpreter.
            "import sys; sys.platform = 'emscripten'; sys.path.insert(0, sys.argv[1])\n"
            "import masivo_web\n"
            "from masivo_web.rules.events import prepare_event\n"
            "print(masivo_web.__file__, prepare_event.__code__.co_filename)",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,  # not the repository: the source tree must not be importable
    )
    module_file, code_file = imported.stdout.split()
    assert module_file.endswith("masivo_web/__init__.pyc")
    assert code_file.endswith("site-packages/masivo_web/rules/events.py")  # as installed


def test_the_page_build_has_its_own_name_and_refuses_cpython_clearly(
    page_wheel: Path, tmp_path: Path
) -> None:
    assert page_wheel.name == f"masivo_web-{_version()}+page-py3-none-any.whl"
    with zipfile.ZipFile(page_wheel) as wheel:
        names = wheel.namelist()
        (metadata,) = (name for name in names if name.endswith(".dist-info/METADATA"))
        assert metadata == f"masivo_web-{_version()}+page.dist-info/METADATA"
        assert f"Version: {_version()}+page" in wheel.read(metadata).decode()
        wheel.extractall(tmp_path / "site")
    imported = subprocess.run(
        [sys.executable, "-c", "import masivo_web"],
        capture_output=True,
        text=True,
        cwd=tmp_path / "site",  # the page build first on the path, not the repository
        check=False,
    )
    assert imported.returncode == 1
    assert "ImportError: This is masivo_web's page build" in imported.stderr
    assert "pip install masivo_web" in imported.stderr


def _version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "masivo_web" / "_version.py").read_text(), namespace)
    return namespace["VERSION"]


def _unpack_as_pyscript_micropython_does(archive: Path, into: Path) -> None:
    """PyScript 0.7's unpacker of a ``files`` archive on MicroPython (its ``writeFile``, case
    ``tar.gz``), in CPython: one folder level made at a time, so a folder must come before its
    files and its sub-folders."""
    import gzip
    import os
    import tarfile

    here = Path.cwd()
    os.chdir(into)
    try:
        with open(archive, "rb") as raw:
            tar = tarfile.TarFile(fileobj=gzip.GzipFile(fileobj=raw))
            for member in tar:
                name = f"./{member.name}"
                if member.type == tarfile.DIRTYPE:
                    if member.name != "./":
                        os.mkdir(name.strip("/"))
                else:
                    folder = os.path.dirname(name)
                    if not os.path.exists(folder):
                        os.mkdir(folder)
                    source = tar.extractfile(member)
                    assert source is not None
                    with open(name, "wb") as dest:
                        dest.write(source.read())
            tar.close()
    finally:
        os.chdir(here)


@pytest.mark.parametrize("flavour", ["py3", "mpy63"])
def test_the_page_archive_is_the_wheels_package_in_one_stream_pyscript_unpacks(
    flavour: str, page_wheel: Path, tmp_path: Path
) -> None:
    import tarfile

    wheel = page_wheel if flavour == "py3" else bytecode.precompile_mpy(page_wheel, tmp_path)
    archive = page_build.archive(wheel, tmp_path)
    suffix = "" if flavour == "py3" else f"-{flavour}"
    assert archive.name == f"masivo_web-{_version()}+page{suffix}.tar.gz"
    first = archive.read_bytes()
    assert page_build.archive(wheel, tmp_path).read_bytes() == first  # the same bytes again
    assert len(first) < 0.75 * wheel.stat().st_size  # one stream, not a zip of small files
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        # ustar only: MicroPython's tarfile reads no pax or GNU headers
        assert all(not member.pax_headers for member in members)
        assert {member.type for member in members} <= {tarfile.DIRTYPE, tarfile.REGTYPE}
    with zipfile.ZipFile(wheel) as source:
        package = {
            name: source.read(name) for name in source.namelist() if ".dist-info/" not in name
        }
    into = tmp_path / "unpacked"
    into.mkdir()
    _unpack_as_pyscript_micropython_does(archive, into)
    unpacked = {
        path.relative_to(into).as_posix(): path.read_bytes()
        for path in into.rglob("*")
        if path.is_file()
    }
    assert unpacked == package
