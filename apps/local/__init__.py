"""The local platform: embedded servers from pip packages, and the supervisor of `gamemetrics dev`."""
