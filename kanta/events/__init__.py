"""Events: the wedding or conference whose photos Kanta indexes (CRUD over HTTP)."""
