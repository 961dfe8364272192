"""Kanta's Azure Functions app (Python v2 model): creates the app and registers one blueprint
per domain. Each blueprint's triggers live in ``kanta/<domain>/functions.py``."""

import azure.functions as func

from kanta.clusters.functions import bp as clusters
from kanta.events.functions import bp as events
from kanta.guests.functions import bp as guests
from kanta.images.functions import bp as images
from kanta.privacy.functions import bp as privacy
from kanta.search.functions import bp as search
from kanta.system.functions import bp as system
from kanta.web.functions import bp as web

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (system, events, images, clusters, search, guests, privacy, web):
    app.register_functions(blueprint)
