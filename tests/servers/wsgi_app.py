"""The README's Flask pattern: one SyncClient per worker process, made at import (with
gunicorn --preload, in the master: each worker's first call starts it again after the fork);
it flushes at interpreter exit, which gunicorn's graceful stop (SIGTERM) reaches."""

from __future__ import annotations

import os

from flask import Flask

from masivo_web import SyncClient

masivo = SyncClient(os.environ["MASIVO_TEST_KEY"], idle_flush_s=30)
app = Flask(__name__)


@app.post("/cart/<customer>")
def add_to_cart(customer: str) -> dict[str, bool]:
    masivo.send_analytics_event(type="ADD_TO_CART", customer_id=customer, brand_id=None)
    return {"queued": True}
