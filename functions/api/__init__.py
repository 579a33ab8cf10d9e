"""HTTP blueprints: parse the request, authorize, call one service function, shape the response."""
