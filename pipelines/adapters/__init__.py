"""Adapters: each reads one real wire into canonical frames (see base.py). One module per adapter."""
