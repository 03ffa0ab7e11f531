"""The port between the ledger and wherever its events are kept.

port.py says what the ledger asks of an event log, in records and errors of its own
(records.py, errors.py). ledger/store implements it on PostgreSQL; memory.py implements it in
memory, for tests of the ledger's own logic and for trying the ledger out. One contract suite
(tests/contract) holds both to the same behaviour.
"""
