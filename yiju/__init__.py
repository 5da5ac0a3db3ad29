"""The `yiju` console script: one entry point for every process."""
