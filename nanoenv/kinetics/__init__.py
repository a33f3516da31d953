"""Batched, differentiable release kinetics (pure torch functions; no gymnasium here)."""
