"""Targets: how chakong's logical requests map to a deployment's HTTP calls (adapters)."""
