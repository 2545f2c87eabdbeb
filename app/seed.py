"""Demo data: `flask --app wsgi seed-demo` (placeholder, replaced below)."""

import click


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo catalog."""
