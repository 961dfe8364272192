"""Selfie search: "show me the photos I am in" for one event."""
