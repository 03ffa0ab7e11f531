SELECT nextval('ledger.checkpoint_id')
