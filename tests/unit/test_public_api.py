"""The public surface: names, import hygiene, packaging promises."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import masivo_web
from masivo_web import errors
from masivo_web.runtime.interpreter import IS_BROWSER

ROOT = Path(__file__).resolve().parents[2]


def test_public_names_are_pinned_and_sorted() -> None:
    assert masivo_web.__all__ == [
        "RESERVED_EVENT_TYPES",
        "CloseResult",
        "Delivery",
        "DeliveryPolicy",
        "MasivoAuthError",
        "MasivoClient",
        "MasivoConfigError",
        "MasivoDroppedError",
        "MasivoError",
        "MasivoNetworkError",
        "MasivoServerKeyError",
        "MasivoValidationError",
        "SendEventResult",
        "SyncClient",
        "__version__",
        "create_client",
    ]
    assert masivo_web.__all__ == sorted(masivo_web.__all__, key=lambda n: (not n.isupper(), n))


def test_every_public_name_has_a_docstring() -> None:
    for name in masivo_web.__all__:
        value = getattr(masivo_web, name)
        if callable(value):
            assert value.__doc__, name


def test_every_part_create_client_accepts_has_its_type_in_seams() -> None:
    import typing

    from masivo_web import create_client, seams

    hints = typing.get_type_hints(create_client)
    for parameter in ("transport", "clock", "page", "storage", "tokens"):
        (kind,) = [arg for arg in typing.get_args(hints[parameter]) if arg is not type(None)]
        assert getattr(seams, kind.__name__) is kind, parameter
        assert kind.__name__ in seams.__all__
    assert sorted(seams.__all__) == seams.__all__
    for name in seams.__all__:
        assert getattr(seams, name).__doc__, name


def test_errors_share_one_root_drawn_in_the_module_docstring() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.MasivoError)
        assert name in (errors.__doc__ or "")
    assert issubclass(errors.MasivoServerKeyError, errors.MasivoAuthError)


@pytest.mark.skipif(IS_BROWSER, reason="Emscripten has no processes to import in afresh")
def test_import_is_warning_free_and_touches_no_browser_api() -> None:
    code = (
        "import sys, masivo_web; "
        "bad = [m for m in ('js', 'pyodide', 'pyodide.ffi', 'masivo_web.emulator', 'starlette', "
        "'masivo_web.transports.fetch', 'masivo_web.sync') if m in sys.modules]; "
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_the_package_has_no_runtime_dependencies_and_ships_py_typed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == []
    assert (ROOT / "masivo_web" / "py.typed").exists()
    assert project["dynamic"] == ["version"]  # read from masivo_web/_version.py
    assert masivo_web.__version__ == masivo_web._version.VERSION


def test_every_setting_is_one_create_client_parameter_and_back() -> None:
    # An option is written in three places: its create_client parameter, its Settings line
    # (type and check), and the code that uses it. This keeps the first two in step.
    import inspect

    from masivo_web.parts import PART_NAMES
    from masivo_web.rules.config import OPTION_NAMES

    parameters = inspect.signature(masivo_web.create_client).parameters
    (catch_all,) = [p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    named = set(parameters) - {catch_all.name}
    # the parts' names are the rest, and both lists are what an unknown keyword is told
    assert set(PART_NAMES) <= named
    assert named - set(PART_NAMES) == set(OPTION_NAMES)


def test_every_option_given_to_create_client_reaches_its_settings() -> None:
    # create_client names each option once more when it builds Settings (not from locals():
    # MicroPython's are the module's); a parameter left out there would silently be None.
    from masivo_web.rules.config import OPTION_NAMES

    given = {
        "brand_id": "b-9",
        "auth_url": "https://auth.example.test/auth/authorize",
        "api_base": "https://api.example.test/v1",
        "batch_size": 7,
        "idle_flush_s": 3.5,
        "max_wait_s": 9.5,
        "timeout_s": 4.5,
        "event_route": "behavior",
        "context": False,
        "enabled": False,
        "page_event_type": "SEEN",
        "identify_event_type": "KNOWN",
        "compression": "gzip",
        "query_strings": False,
    }
    assert set(given) | {"api_key"} == set(OPTION_NAMES)
    client = masivo_web.create_client("key-9", **given)
    assert {name: getattr(client.settings, name) for name in given} == given
    assert client.settings.api_key == "key-9"
    client.destroy()
