"""The optional fields of an event with a documented shape (``product``, ``tags``, the dicts and
strings Masivo names), and the SDK's own fields (``anonymous_id``, ``context``) when the caller
gives them: each checked at the call, with the field's name in the error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import MasivoValidationError, short_repr
from ..runtime.interpreter import MAPPINGS
from .encoding import hint_for

_NUMBER = (int, float)

_STRING_FIELDS = frozenset({"platform", "referral_code"})
_DICT_FIELDS = frozenset({"order", "metadata", "user", "traits", "properties", "context"})
#: Optional fields with a documented shape, and the SDK's own fields when the caller gives them;
#: other extra keys may hold any JSON value.
CHECKED_FIELDS = _STRING_FIELDS | _DICT_FIELDS | {"tags", "product", "anonymous_id"}
#: The SDK's context: what each key it fills in holds (a caller's context may add others).
_CONTEXT_STRINGS = frozenset({"user_agent", "locale", "timezone"})
_CONTEXT_DICTS = frozenset({"library", "page", "campaign"})


def check_field(key: str, value: object) -> None:
    """Check one optional field that is not None."""
    if key in _STRING_FIELDS:
        if type(value) is not str and not isinstance(value, str):
            raise MasivoValidationError(
                f"{short_repr(key)} must be a string; got {short_repr(value)}.{hint_for(value)}"
            )
    elif key in _DICT_FIELDS:
        if type(value) is not dict and not isinstance(value, MAPPINGS):
            raise MasivoValidationError(
                f"{short_repr(key)} must be a dict; got {short_repr(value)}."
            )
        if key == "context":
            _check_context(value)
    elif key == "anonymous_id":
        if type(value) is not str or not value:
            raise MasivoValidationError(
                "'anonymous_id' must be a non-empty string (the SDK fills in the visitor's; "
                f"leave it out); got {short_repr(value)}.{hint_for(value)}"
            )
    elif key == "tags":
        _check_tags("tags", value)
    else:
        _check_product(value)


def _check_context(context: Mapping[str, Any]) -> None:
    """A caller's ``context`` replaces the SDK's: the keys the SDK fills in keep its shapes."""
    for key, value in context.items():
        name = f"'context.{key}'"
        if key in _CONTEXT_STRINGS and value is not None and not isinstance(value, str):
            raise MasivoValidationError(f"{name} must be a string; got {short_repr(value)}.")
        if key in _CONTEXT_DICTS and value is not None:
            if not isinstance(value, MAPPINGS):
                raise MasivoValidationError(f"{name} must be a dict; got {short_repr(value)}.")
            for inner, text in value.items():
                if key == "page" and text is not None and not isinstance(text, str):
                    raise MasivoValidationError(
                        f"'context.page.{inner}' must be a string; got {short_repr(text)}."
                    )


def _check_product(product: object) -> None:
    if type(product) is not dict and not isinstance(product, MAPPINGS):
        raise MasivoValidationError(f"'product' must be a dict; got {short_repr(product)}.")
    sku = product.get("sku")
    if sku is not None and type(sku) is not str and not isinstance(sku, str):
        raise MasivoValidationError(f"'product.sku' must be a string; got {short_repr(sku)}.")
    for key in ("amount", "value", "discounted_value"):
        number = product.get(key)
        kind = type(number)
        if (
            kind is not float
            and kind is not int
            and number is not None
            and (kind is bool or not isinstance(number, _NUMBER))
        ):
            raise MasivoValidationError(
                f"'product.{key}' must be a number; got {short_repr(number)}.{hint_for(number)}"
            )
    _check_tags("product.tags", product.get("tags"))
    metadata = product.get("metadata")
    if metadata is not None and type(metadata) is not dict and not isinstance(metadata, MAPPINGS):
        raise MasivoValidationError(
            f"'product.metadata' must be a dict; got {short_repr(metadata)}."
        )


def _check_tags(name: str, tags: object) -> None:
    if tags is None:
        return
    if not isinstance(tags, (list, tuple)) or not all(isinstance(tag, str) for tag in tags):
        raise MasivoValidationError(
            f"{short_repr(name)} must be a list of strings; got {short_repr(tags)}."
        )
