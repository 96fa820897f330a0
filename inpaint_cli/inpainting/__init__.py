"""Filling the holes of one image in memory: masks, the hole's plan, the network's windows, texture."""
