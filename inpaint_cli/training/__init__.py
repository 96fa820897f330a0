"""prepare and train, and what only they need: the input pipeline, the cluster, resuming, the card."""
