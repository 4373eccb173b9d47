"""Benchmark of the baked template's image and stack against two baseline Dockerfiles.
Run it with `python -m bench` from the repository root; the method is in bench/README.md."""
