"""Pure rules of the ledger: commands, events, decide and evolve. Standard library only."""
