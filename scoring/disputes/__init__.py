"""The public's complaints and their settlement: filed online by anyone, answered first by a
merchant taking part in online dispute resolution (先行和解), escalated into the bureau's
intake (scoring.credit) on the working-day calendar, and followed up (回访)."""
