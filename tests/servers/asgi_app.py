"""The README's FastAPI pattern: the client is made at startup and closed at shutdown in the
app's lifespan (FastAPI passes ``lifespan=`` to Starlette, which runs it the same way).

``MASIVO_TEST_CLOSE=0`` leaves out the close, as an app that forgets it does."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from masivo_web import create_client


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # MASIVO_AUTH_URL and MASIVO_API_BASE point create_client at the emulator.
    app.state.masivo = create_client(os.environ["MASIVO_TEST_KEY"], idle_flush_s=30)
    yield
    if os.environ.get("MASIVO_TEST_CLOSE", "1") == "1":
        await app.state.masivo.close(timeout_s=10)


app = FastAPI(lifespan=lifespan)


@app.post("/cart/{customer}")
async def add_to_cart(customer: str) -> dict[str, bool]:
    app.state.masivo.send_analytics_event(type="ADD_TO_CART", customer_id=customer, brand_id=None)
    return {"queued": True}
