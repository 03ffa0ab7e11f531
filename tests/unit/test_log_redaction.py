"""Log lines never print a member id in the clear (README "Personal data")."""

from service.logs import REDACTED, redact_member_ids


def test_member_id_fields_and_account_names_in_any_text_are_redacted() -> None:
    line = {
        "event": "rpc_failed",
        "member_id": "jane.doe@example.com",
        "account": "programs/shop-eu/accounts/jane.doe@example.com",
        "exception": "NotFound: name='programs/shop-eu/accounts/+33612345678' (GetAccount)",
        "events_appended": 3,
    }

    redacted = redact_member_ids(None, "info", dict(line))

    assert redacted == {
        "event": "rpc_failed",
        "member_id": REDACTED,
        "account": f"programs/shop-eu/accounts/{REDACTED}",
        "exception": f"NotFound: name='programs/shop-eu/accounts/{REDACTED}' (GetAccount)",
        "events_appended": 3,
    }
    assert "jane.doe" not in str(redacted) and "+3361" not in str(redacted)


def test_a_line_without_member_ids_is_left_as_it_is() -> None:
    line = {"event": "sweep", "program": "programs/shop-eu", "answers_expired": 10}

    assert redact_member_ids(None, "info", dict(line)) == line
