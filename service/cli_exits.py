"""How the commands end when they refuse: one JSON line on standard error, and a status."""

import json
import sys

from ledger.domain.errors import LedgerError

NOTHING_TO_DO = 2
"""Exit status: nothing to audit (an unknown program or revision), or a usage error."""
CANNOT_READ = 3
"""Exit status: the database could not be read, so nothing was done. Apart from 1 (the
audit's discrepancy found) and 2, so that a scheduled audit never reports an outage as a
fault in the ledger."""


def refused(error: LedgerError, status: int) -> int:
    """Says why on standard error, as {"reason", "message"}; returns `status`."""
    print(json.dumps({"reason": error.reason, "message": error.message}), file=sys.stderr)
    return status
