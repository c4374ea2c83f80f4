"""Running the app under gunicorn in-process (``botify serve``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gunicorn.app.base import BaseApplication

from botify.service import gunicorn_conf


class BotifyServer(BaseApplication):
    """gunicorn with the service's settings; each worker builds its own app after the fork.

    Args:
        config: configuration overrides handed to ``create_app`` in every worker.
        options: gunicorn settings over :data:`botify.service.gunicorn_conf.SETTINGS`
            (``bind``, ``workers``, ...).
    """

    def __init__(self, config: Mapping[str, Any] | None = None, **options: Any) -> None:
        self.app_config = dict(config or {})
        self.options = {**gunicorn_conf.SETTINGS, **options}
        super().__init__(prog="botify serve")

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from botify.service.app import create_app

        return create_app(self.app_config)
