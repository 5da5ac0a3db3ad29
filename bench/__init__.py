"""Benchmarks that print their figures beside targets and draw plots (`yiju bench ...`)."""
