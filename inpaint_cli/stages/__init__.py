"""The stages, one per command (fill, serve, evaluate, export): each a library entry that cli.py calls."""
