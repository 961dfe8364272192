"""Privacy: consent, face search on or off, retention of face data, and "forget my face"."""
