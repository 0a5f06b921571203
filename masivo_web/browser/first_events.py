"""A PyScript worker's first events: tracked before its page answered, when the visitor's stored
ids and the page's fields are not known yet. Each is noted with what the SDK filled in, and
completed once the page answers, before any is stored or sent."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from ..errors import MasivoValidationError
from ..rules.encoding import serialise
from ..rules.events import PreparedEvent

logger = logging.getLogger("masivo_web")


class FirstEvents:
    """The events a worker's client queued before its page answered."""

    def __init__(self) -> None:
        self._noted: list[tuple[PreparedEvent, str, bool, tuple[str, ...]]] = []
        #: Until the page answered: what is tracked is noted.
        self.open = True

    def note(
        self,
        event: PreparedEvent,
        anonymous_id: str,
        filled_context: bool,
        page_keys: tuple[str, ...],
    ) -> None:
        """``event`` got ``anonymous_id`` (a provisional visitor), the SDK's context if
        ``filled_context``, and the page's fields ``page_keys`` (``page()``)."""
        self._noted.append((event, anonymous_id, filled_context, page_keys))

    def complete(
        self,
        *,
        still_queued: Callable[[str], bool],
        revise: Callable[[PreparedEvent, str, int], None],
        anonymous_id: str,
        customer_id: str | None,
        page_now: Callable[[], dict[str, Any]],
        context: Callable[[], dict[str, Any]],
    ) -> None:
        """The page answered: give each event still queued the site's visitor
        (``anonymous_id``, ``customer_id``), the page's fields and context, through
        ``revise(event, json_text, size)``."""
        noted, self._noted, self.open = self._noted, [], False
        where: dict[str, Any] | None = None
        for event, provisional_id, filled_context, page_keys in noted:
            if not still_queued(event.event_id):
                continue  # dropped meanwhile (opt-out, destroy)
            fields = json.loads(event.json)
            if fields.get("anonymous_id") == provisional_id:
                fields["anonymous_id"] = anonymous_id
            if fields.get("customer_id") == provisional_id:
                fields["customer_id"] = customer_id or anonymous_id
            if page_keys:
                where = page_now() if where is None else where
                for key in page_keys:
                    fields[key] = where.get(key, "")
            if filled_context and "context" in fields:
                fields["context"] = context()
            try:
                revise(event, *serialise(fields))
            except MasivoValidationError:  # over the size limit with the page's fields
                logger.warning("masivo_web: event %s is sent without its page", event.event_id)
