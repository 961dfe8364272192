"""Clusters: grouping an event's faces into people (timer, on-demand run, listing)."""
