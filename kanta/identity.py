"""The one place that builds the Managed Identity credential Kanta uses in Azure.

Storage (``kanta.storage``) and PostgreSQL with Entra ID (``kanta.db``) both authenticate as
the Function App's user-assigned managed identity, named by its client id. In Azure the
credential asks the platform's identity endpoint for tokens; that endpoint exists nowhere
else, so tests replace ``managed_identity_credential`` (and only it) with a fake.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


@functools.cache
def managed_identity_credential(client_id: str) -> TokenCredential:
    """Return the process-wide credential of the managed identity whose client id is
    ``client_id`` (empty: the system-assigned identity). One instance per client id, so its
    token cache is shared: ``get_token`` answers from the cache until a token is close to
    expiry (azure-identity docs, "Token caching").

    The credential raises ``azure.identity.CredentialUnavailableError`` from ``get_token``
    outside Azure.
    """
    # Imported here: azure-identity is needed only on the Azure path.
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=client_id or None)
