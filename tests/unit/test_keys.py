"""API keys: shown once, stored as a hash, parsed strictly."""
from tracker.db import keys


def test_a_new_key_verifies_against_its_stored_hash_only():
    new, other = keys.generate(), keys.generate()
    key_id, secret = keys.split(new.plaintext)
    assert key_id == new.key_id
    assert keys.matches(secret, new.secret_hash)
    assert not keys.matches(secret, other.secret_hash)
    assert secret not in new.secret_hash


def test_malformed_keys_do_not_parse():
    for bad in ("", "trk_", "trk_short_x", "abc_0123456789abcdef_secret", "trk_0123456789abcdefXsecret",
                "trk_0123456789abcdef_"):
        assert keys.split(bad) is None
