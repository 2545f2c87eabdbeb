"""The baseline: a hello-world Flask app, served by gunicorn exactly like `wsgi:app`."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    return "Hello, World!"
