"""The broker's app plus the stand-ins' commands, for development only.

``flask --app standins.dev platform serve`` runs the local platform; ``platform create``,
``platform open`` and friends act as the platform's CLI. The production app (``app.py``)
does not carry these commands.
"""

from marketplace import create_app
from standins.platform.cli import platform

app = create_app()
app.cli.add_command(platform)
