"""Domain logic of the API: keyword-only functions taking the connection and the caller."""
