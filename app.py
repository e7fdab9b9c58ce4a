"""Entry points: ``app``, the WSGI app (``flask --app app``, tests), and ``web``, the same app
behind the buffering bridge that gunicorn serves (``gunicorn.conf.py``)."""

from marketplace import create_app
from marketplace.serving import BufferingBridge

app = create_app()
web = BufferingBridge(
    app, max_body=int(app.config["MAX_CONTENT_LENGTH"]), threads=int(app.config["WEB_THREADS"])
)
