"""The HTTP API (`yiju api`): FastAPI routes over services; see main.py for how it is put together."""
