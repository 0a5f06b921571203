"""The wheel a web page downloads: the same package, without its server-side parts, compacted.

    build(Path("dist/masivo_web-0.1.0-py3-none-any.whl"), Path("static/vendor/wheels"))
    build_installed(target_dir)   # the same, from the package this Python runs

A page pays for every byte of the wheel and for compiling every line it imports (Pyodide ships
no ``.pyc``), so the browser wheel, like the minified bundles of the JavaScript SDKs, leaves out:

- what a page cannot use: the folders of the emulator, the checkout-only tools and the CPython
  transports, and the face's CPython-only entry points (``EXCLUDED``);
- docstrings, comments and every type annotation and type-only import (:mod:`.erase`: the
  types are erased, as a TypeScript build does; MicroPython has no ``typing`` to import);
- the long description in METADATA (the README) and the pytest entry point.

Its version is the full wheel's with the local label ``+page`` (``masivo_web-0.1.0+page-py3-none-
any.whl``): pip, micropip and their caches key on the file name, so the page build can never be
taken for the full one. Imported under CPython it stops at once with an ``ImportError`` saying
to install the full package. The browser tests install this wheel, so what pages run is what the
suite checks.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

from . import erase

#: Folders (inside the wheel) a page never imports: the emulator, the tools that run from a
#: checkout, the CPython transports and ``SyncClient`` (threads). Whole folders, so a new tool
#: put in ``devtools/`` cannot leak into pages.
EXCLUDED_FOLDERS = (
    "masivo_web/emulator/",
    "masivo_web/devtools/",
    "masivo_web/transports/cpython/",
    "masivo_web/sync/",
)
#: The face's CPython-only entry points: the command line and the pytest plugin.
EXCLUDED_ENTRY_POINTS = (
    "masivo_web/__main__.py",
    "masivo_web/pytest_plugin.py",
)
#: Paths (inside the wheel) a page never imports.
EXCLUDED = EXCLUDED_FOLDERS + EXCLUDED_ENTRY_POINTS


def _short_metadata(metadata: str) -> str:
    """Name, version, summary and the rest of the core fields; not the README, the classifiers
    or the extras (server-side tools a page cannot install)."""
    headers = metadata.split("\n\n", 1)[0]
    dropped = ("Description-", "Classifier:", "Provides-Extra:", "Requires-Dist:")
    kept = [line for line in headers.splitlines() if not line.startswith(dropped)]
    return "\n".join(kept) + "\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


#: The local version label of the page build.
PAGE_LABEL = "+page"
#: First lines of the page build's ``masivo_web/__init__.py``.
CPYTHON_GUARD = (
    "import sys as _sys\n"
    "if _sys.platform not in ('emscripten', 'webassembly'):\n"
    "    raise ImportError(\"This is masivo_web's page build (for Pyodide and PyScript pages): "
    "it has no CPython transport, SyncClient, emulator or pytest plugin. Under CPython install "
    'the full package: pip install masivo_web")\n'
)


def build(full_wheel: Path, target_dir: Path) -> Path:
    """Write the browser wheel for ``full_wheel`` into ``target_dir`` and return its path."""
    with zipfile.ZipFile(full_wheel) as source:
        entries = {
            info.filename: source.read(info)
            for info in source.infolist()
            if not info.filename.endswith("/")
        }
    return _page_wheel(full_wheel.name, entries, target_dir)


def build_installed(target_dir: Path) -> Path:
    """The browser wheel of the masivo_web this Python runs (installed from a wheel, or
    editable in a checkout), the same content :func:`build` gives from that package's wheel:
    its modules and ``py.typed`` (what the wheel holds of the package), and its METADATA."""
    from importlib import metadata

    from ... import __version__ as version

    package = Path(__file__).resolve().parents[2]
    info = f"masivo_web-{version}.dist-info"
    entries = {
        path.relative_to(package.parent).as_posix(): path.read_bytes()
        for path in sorted(package.rglob("*"))
        if path.suffix == ".py" or path.name == "py.typed"
        if "__pycache__" not in path.parts
    }
    entries[f"{info}/METADATA"] = (
        metadata.distribution("masivo_web").read_text("METADATA") or ""
    ).encode()
    entries[f"{info}/RECORD"] = b""
    return _page_wheel(f"masivo_web-{version}-py3-none-any.whl", entries, target_dir)


def _page_wheel(full_name: str, entries: dict[str, bytes], target_dir: Path) -> Path:
    distribution, version, rest = full_name.split("-", 2)
    page_version = version + PAGE_LABEL
    old_info, new_info = (
        f"{distribution}-{version}.dist-info/",
        f"{distribution}-{page_version}.dist-info/",
    )
    target = target_dir / f"{distribution}-{page_version}-{rest}"
    files: dict[str, bytes] = {}
    record_name = ""
    for name, data in entries.items():
        if name.startswith(EXCLUDED):
            continue
        name = name.replace(old_info, new_info)
        if name.endswith(".dist-info/RECORD"):
            record_name = name
            continue
        if name.endswith(".dist-info/entry_points.txt"):
            continue  # the pytest plugin is not in this wheel
        if name.endswith(".dist-info/METADATA"):
            metadata = _short_metadata(data.decode())
            data = metadata.replace(f"Version: {version}\n", f"Version: {page_version}\n").encode()
        files[name] = data
    sources = {name: data.decode() for name, data in files.items() if name.endswith(".py")}
    for name, text in erase.page_sources(sources).items():
        if name == f"{distribution}/__init__.py":
            text = CPYTHON_GUARD + text
        files[name] = text.encode()
    write_wheel(target, files, record_name)
    return target


def archive(wheel: Path, target_dir: Path) -> Path:
    """``wheel``'s package as one ``.tar.gz`` a page ships through PyScript's ``files``
    (``{"<url>.tar.gz": "./*"}``: unpacked into the interpreter's working folder, which is on
    ``sys.path``), instead of ``packages``.

    One compressed stream for the whole package, where a wheel compresses each file alone and
    pays a header and a central-directory entry per file: about a third smaller. And nothing to
    install: Pyodide needs no micropip, MicroPython no zip reader (PyScript fetches one, about
    70 KB, to unpack any ``.whl``). Plain ustar (MicroPython's ``tarfile`` reads no pax headers),
    folders before their files (PyScript's unpacker makes one folder level at a time), fixed
    dates and owners: the same input gives the same bytes.
    """
    flavour = wheel.name.rsplit("-", 3)[-3]  # "py3", "cp314" or "mpy63"
    distribution, version = wheel.name.split("-")[:2]
    suffix = "" if flavour == "py3" else f"-{flavour}"
    target = target_dir / f"{distribution}-{version}{suffix}.tar.gz"
    with zipfile.ZipFile(wheel) as source:
        names = sorted(name for name in source.namelist() if ".dist-info/" not in name)
        # every folder a file is in, at every depth (sorted: a folder before its sub-folders)
        folders = sorted(
            {name.rsplit("/", up)[0] for name in names for up in range(1, name.count("/") + 1)}
        )
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for folder in folders:
                info = tarfile.TarInfo(folder)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            for name in names:
                data = source.read(name)
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    target.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))
    return target


def write_wheel(target: Path, files: dict[str, bytes], record_name: str) -> None:
    """Write a wheel of ``files`` (name: bytes) with its RECORD, fixed dates and modes: the same
    files give the same bytes."""
    record = [_record_line(name, data) for name, data in files.items()]
    record.append(f"{record_name},,")
    files = {**files, record_name: ("\n".join(record) + "\n").encode()}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as wheel:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            wheel.writestr(info, data, compresslevel=9)
