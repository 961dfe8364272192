"""Pydantic schemas of the privacy API."""

from __future__ import annotations

from pydantic import BaseModel


class ForgetResult(BaseModel):
    """What an erasure did: ``erased``, the faces erased from the event (their descriptors,
    thumbnails and places in people); ``message``, what that means, for people."""

    erased: int
    message: str
