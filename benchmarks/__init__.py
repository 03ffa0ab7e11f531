"""`make bench`: the ledger measured against ceilings and peers in the same run."""
