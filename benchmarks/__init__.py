"""Benchmarks: a synthetic corpus generator and the speed/scale/quality suite (`python -m benchmarks.run`)."""
