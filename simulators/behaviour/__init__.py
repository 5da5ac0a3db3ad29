"""Seeded device behaviour and fault injection with ground truth: pure code, no MQTT, no database."""
