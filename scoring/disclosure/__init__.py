"""Complaint disclosure (投诉公示): each merchant's public complaint record, with honest figures."""
