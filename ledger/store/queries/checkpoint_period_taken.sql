SELECT EXISTS (SELECT 1 FROM ledger.checkpoints WHERE period_start = %(period_start)s)
