"""Satisfaction scoring: survey scores, score runs and their review, rankings and pages."""
