"""The bureau's reports from live data: the annual report (figures, page, PDF, spreadsheet)."""
