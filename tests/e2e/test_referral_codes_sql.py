"""The referral codes migration 0020 gave members linked before it are the codes the ledger
computes (and showed them): the SQL function and the Python one agree."""

import psycopg

from ledger.domain.referral_codes import referral_code
from ledger.ids import new_member_key


def test_the_migration_computes_the_codes_members_were_shown(database_url: str) -> None:
    pairs = [("shop", new_member_key()) for _ in range(50)]
    pairs += [("prog-é", "legacy-member@example.com"), ("p", "1")]
    with psycopg.connect(database_url) as connection:
        for program_id, key in pairs:
            row = connection.execute(
                "SELECT ledger.referral_code(%s, %s)", (program_id, key)
            ).fetchone()
            assert row is not None
            assert row[0] == referral_code(program_id, key), (program_id, key)
