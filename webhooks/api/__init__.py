"""The JSON APIs: the agent API and the supervisor API."""
