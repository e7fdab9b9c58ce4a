"""Plain-Python services: the broker's work, with no access to ``flask.request``."""
