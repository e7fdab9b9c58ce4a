"""SSO token formulas against the reference's test vectors."""

from marketplace.services.sso import resource_token, user_scoped_token


def test_legacy_dev_center_vector():
    token = resource_token("123", "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4", "1267597772")
    assert token == "bb466eb1d6bc345d11072c3cd25c311f21be130d"


def test_kensa_vector():
    assert (
        resource_token("1", "SSO_SALT", "1262304000") == "b6010f6fbb850887a396c2bc0ab23974003008f6"
    )


def test_v3_resource_token_vector():
    token = resource_token("01234567-89ab-cdef-0123-456789abcdef", "7CwqmJLEjv8YZTXK", "1267597772")
    assert token == "fcafa20c7ac7675276ea92ed04bc929674b711a5"


def test_user_scoped_vector():
    token = user_scoped_token(
        "01234567-89ab-cdef-0123-456789abcdef",
        "7CwqmJLEjv8YZTXK",
        "1267597772",
        "fedcba98-7654-3210-fedc-ba9876543210",
        "user@example.com",
    )
    assert token == "286fdd23ff5fd473f16b18658595fdaf5041926c8aeca2c645a2507128060040"
