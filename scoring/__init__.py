"""Scoring, in two domains: ``satisfaction`` (survey scores, runs, rankings) and ``credit``
(merchant credit from events and complaints). What both use stays here: ``fixed`` (exact
fixed-point sums) and ``arrow`` (reading the database as Arrow). Offers
``scoring.plugin.PLUGIN``."""
