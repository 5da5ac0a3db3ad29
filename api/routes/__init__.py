"""One router per resource; `main.py` mounts them all."""
