"""Everything ``ivr`` keeps in Redis: its keys, in one module, and one store per kind of record."""
