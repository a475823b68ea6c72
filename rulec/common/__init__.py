"""Shared foundations of every stage: the vocabulary, the shop calendar, the Redis connection."""
