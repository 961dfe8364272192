"""Kanta: face indexing for event photos on Azure Functions.

Domain packages (``events``, ``images``, ``clusters``, ``search``, ``system``) each hold
``functions.py`` (triggers), ``service.py`` (logic) and ``schemas.py`` (pydantic). ``faces``
and ``clusters.algorithm`` are pure computation. ``config``, ``db`` and ``storage`` are
the single places for settings, database connections and storage clients.
"""
