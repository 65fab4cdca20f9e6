"""Secrets at rest and identities: the master key, personal-data encryption, passwords, tokens."""
