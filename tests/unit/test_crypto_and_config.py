"""Vault rotation, constant-time compare, configuration rules."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet, InvalidToken

from marketplace.config import ConfigError, load_config
from marketplace.services.crypto import Vault, secrets_equal
from marketplace.services.regions import supported_region


def test_vault_decrypts_with_old_keys_and_encrypts_with_the_first():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Vault([old]).encrypt("s3cret")
    rotated_vault = Vault([new, old])

    assert rotated_vault.decrypt(token) == "s3cret"
    assert Vault([new]).decrypt(rotated_vault.rotate(token)) == "s3cret"
    with pytest.raises(InvalidToken):
        Vault([new]).decrypt(token)


def test_vault_needs_a_key():
    with pytest.raises(ValueError, match="at least one"):
        Vault([" "])


def test_secrets_equal():
    assert secrets_equal("abc", "abc")
    assert not secrets_equal("abc", "abd")
    assert not secrets_equal("", "abc")


def test_production_refuses_to_start_without_secrets(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("MARKETPLACE_ENV", "production")
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS"):
        load_config(str(tmp_path))
    assert not (tmp_path / "dev-secrets.json").exists()


def test_development_secrets_are_generated_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("MARKETPLACE_ENV", raising=False)
    first = load_config(str(tmp_path))
    second = load_config(str(tmp_path))

    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert first["ENCRYPTION_KEYS"] == second["ENCRYPTION_KEYS"]
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o777 == 0o600
    Vault(first["ENCRYPTION_KEYS"]).encrypt("works")


def test_environment_is_read(tmp_path, monkeypatch):
    keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    monkeypatch.setenv("ENCRYPTION_KEYS", ",".join(keys))
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/broker")
    monkeypatch.delenv("MARKETPLACE_URL", raising=False)
    config = load_config(str(tmp_path))

    assert config["ENCRYPTION_KEYS"] == keys
    assert config["MARKETPLACE_URL"] == "http://localhost:8123"
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db:5432/broker"
    assert not (tmp_path / "dev-secrets.json").exists()
    json.dumps({k: str(v) for k, v in config.items()})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("amazon-web-services::us-east-1", "us"),
        ("us", "us"),
        (None, "us"),
        ("amazon-web-services::eu-west-1", None),
        ("mars", None),
    ],
)
def test_supported_region(value, expected):
    assert supported_region(value, ["us"]) == expected
