"""Scoring, in two domains: ``satisfaction`` (survey scores, runs, rankings) and ``credit``
(merchant credit from events and complaints). What both use stays here: ``fixed`` (exact
fixed-point sums) and ``arrow`` (reading the database as Arrow). The packages' templates,
which the service's template engine searches, are registered in ``TEMPLATE_DIRS``."""

from pathlib import Path

TEMPLATE_DIRS = (
    Path(__file__).parent / "satisfaction" / "templates",
    Path(__file__).parent / "credit" / "templates",
)
