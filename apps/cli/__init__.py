"""The `gamemetrics` command: one sub-command module each, registered in main.py."""
