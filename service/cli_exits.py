"""How the replaying commands (audit, its report, what-if) end when they cannot read the log."""

import json
import sys

from ledger.domain.errors import LedgerError

CANNOT_READ = 3
"""Exit status: the database could not be read, so nothing was audited. Apart from 1 (a
discrepancy found) and 2 (nothing to audit, or a usage error), so that a scheduled audit
never reports an outage as a fault in the ledger."""


def cannot_read(error: LedgerError) -> int:
    """Says why on standard error, as JSON like the commands' other refusals."""
    print(json.dumps({"reason": error.reason, "message": error.message}), file=sys.stderr)
    return CANNOT_READ
