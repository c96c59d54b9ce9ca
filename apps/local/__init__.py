"""The local platform: embedded servers from pip packages, supervised by `gamemetrics dev`."""
