"""Pages that join several domain packages into one journey: the public home, the official's
desk, the merchant's own page. Like ``service.app`` they sit above the domain packages (they
import surveys, scoring and certificates); only ``service.app`` imports them."""
