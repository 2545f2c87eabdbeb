"""CLI commands: `flask --app wsgi seed-demo`, `create-admin`, `prune-media`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext


def register(app: Flask) -> None:
    from app.seed import seed_demo_command

    app.cli.add_command(seed_demo_command)
    app.cli.add_command(create_admin_command)
    app.cli.add_command(prune_media_command)


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


@click.command("prune-media")
@with_appcontext
def prune_media_command() -> None:
    """Delete lesson videos no section names any more, once no signed URL can name them."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import CourseSection
    from app.models.types import utcnow
    from app.services import media

    referenced = set(db.session.scalars(select(CourseSection.media_file)).all()) - {None}
    removed = media.prune_media(referenced, utcnow())
    click.echo(f"removed {len(removed)} file(s)")
