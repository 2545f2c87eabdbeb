"""CLI commands: `flask --app wsgi seed-demo`, `create-admin`."""

from __future__ import annotations

import click
from flask import Flask


def register(app: Flask) -> None:
    from app.seed import seed_demo_command

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_admin_command)


@click.command("create-admin")
@click.argument("username")
@click.option("--email", default="", help="The staff user's email address.")
@click.password_option(
    envvar="ADMIN_PASSWORD", prompt="Password", help="Read from ADMIN_PASSWORD when set."
)
def create_admin_command(username: str, email: str, password: str) -> None:
    """Create a staff user, or make an existing user staff with this password."""
    from app.extensions import db
    from app.services.accounts import set_staff_user
    from app.services.errors import DomainError

    try:
        user, created = set_staff_user(username, password, email=email)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(
            "; ".join(f"{k}: {v}" for k, v in exc.fields.items()) or exc.message
        ) from exc
    click.echo(f"{'Created' if created else 'Updated'} staff user {user.username}.")
