"""The HTTP edge every service shares: probes, metrics, JSON errors, the body guard, serving."""
