"""Synthetic game traffic: a pure model of players (`model`) and its sender (`sender`)."""
