"""Azure Functions entry point (v2 programming model): the app object the host indexes."""

from functions.app import create_app

app = create_app()
