"""Images: upload URLs, the blob trigger that indexes uploaded photos, listing and deletion."""
