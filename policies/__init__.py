"""The CrossGuard policy pack (rules in importable modules; the pack is built in __main__)."""
