"""Merchant credit: the rule table, events and complaints, standings, figures and pages."""
