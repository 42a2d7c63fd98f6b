"""`hotline zones`: import and list the zones volunteers serve."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.database import get_db
from app.zones.postcodes import zone_counts
from app.zones.profiles import ZoneImportError, import_profile, profile_path, read_profile


@click.group("zones", cls=AppGroup, help="Zones (postcode areas) volunteers serve.")
def zones_group() -> None:
    pass


@zones_group.command("import")
@click.argument("path", required=False)
def zones_import(path: str | None) -> None:
    """Import a zone profile: a .toml profile, a Berlin-format .csv, or the configured one."""
    source = Path(path) if path else profile_path(current_app.config["HOTLINE"].zone_profile)
    try:
        profile = read_profile(source)
    except ZoneImportError as e:
        raise click.ClickException(f"{e}. Nothing was imported.") from None
    with get_db().session() as session:
        result = import_profile(session, profile)
        session.commit()
    if "hotline_places" in current_app.extensions:  # this app's phone line, if it has one
        current_app.extensions["hotline_places"].forget()
    for line in result.report():
        click.echo(line)


@zones_group.command("list")
def zones_list() -> None:
    """List the zones and how many postcodes each holds."""
    with get_db().session() as session:
        rows = zone_counts(session)
    if not rows:
        click.echo("No zones yet. Run: hotline zones import")
        return
    for zone, count in rows:
        click.echo(f"{zone.area:<12} {zone.slug:<28} {zone.name:<30} {count:>5} postcodes")
