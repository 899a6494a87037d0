"""Merchants' public commitments (承诺): offline no-reason returns, pay-first compensation,
clearly marked prices — declared, replaced and ended with their full history."""
