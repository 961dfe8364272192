"""The guest web page: what a guest opens from an event's join URL or QR code."""
