"""Local development: embedded PostgreSQL (pgserver), Azurite, and a host that runs the
Function App's triggers when Azure Functions Core Tools is not installed. Never imported
by the deployed app."""
