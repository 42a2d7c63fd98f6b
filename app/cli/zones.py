"""`hotline zones`: import and list the zones volunteers serve."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.database import get_db
from app.helplines import helpline_by_slug, sync_helplines
from app.zones.postcodes import zone_counts
from app.zones.profiles import ZoneImportError, import_profile, profile_path, read_profile


@click.group("zones", cls=AppGroup, help="Zones (postcode areas) volunteers serve.")
def zones_group() -> None:
    pass


@zones_group.command("import")
@click.argument("path", required=False)
@click.option(
    "--helpline",
    "slug",
    help="The helpline whose zones PATH holds (its slug); needed with several helplines.",
)
def zones_import(path: str | None, slug: str | None) -> None:
    """Import zone profiles: every helpline's configured one, or PATH (.toml or .csv)."""
    helplines = current_app.config["HOTLINE"].helplines
    known = ", ".join(h.slug for h in helplines)
    if slug is not None and helpline_by_slug(helplines, slug) is None:
        raise click.ClickException(f"No helpline {slug!r} in the configuration (known: {known}).")
    if path is not None and slug is None and len(helplines) > 1:
        raise click.ClickException(f"Say which helpline {path} is for: --helpline ({known}).")
    if path is None:
        chosen = [h for h in helplines if slug in (None, h.slug)]
        sources = [(h, profile_path(h.zone_profile)) for h in chosen]
    else:
        sources = [(helpline_by_slug(helplines, slug) if slug else helplines[0], Path(path))]
    try:
        # Every file is read before the database is touched: all or nothing.
        profiles = [(helpline, read_profile(source)) for helpline, source in sources]
    except ZoneImportError as e:
        raise click.ClickException(f"{e}. Nothing was imported.") from None
    with get_db().session() as session:
        ids = sync_helplines(session, helplines)
        results = [
            (helpline, import_profile(session, profile, ids[helpline.slug]))
            for helpline, profile in profiles
        ]
        session.commit()
    if "hotline_places" in current_app.extensions:  # this app's phone line, if it has one
        current_app.extensions["hotline_places"].forget()
    for helpline, result in results:
        if len(helplines) > 1:
            click.echo(f"Helpline {helpline.slug} ({helpline.name}):")
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
    several = len({zone.helpline_id for zone, _ in rows}) > 1
    for zone, count in rows:
        helpline = f"{zone.helpline.slug:<14} " if several else ""
        click.echo(
            f"{helpline}{zone.area:<12} {zone.slug:<28} {zone.name:<30} {count:>5} postcodes"
        )
