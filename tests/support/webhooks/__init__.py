"""Test-side signers for provider webhooks: build requests the way each provider signs them."""
