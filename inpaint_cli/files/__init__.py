"""Photos read and written with their metadata, and the one atomic write."""
