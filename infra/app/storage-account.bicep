// One keyless StorageV2 account (used twice by main.bicep: the Functions host account and
// the uploads account). Written as plain resources rather than the AVM storage-account
// module so that the security properties below stay in one literal that
// tests/test_infra.py can check (allowSharedKeyAccess: false on every account).

@description('Globally unique account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Blob containers to create (private: no anonymous access).')
param containers array = []

@description('Origins allowed to call the blob endpoint from a browser (CORS). Empty: no CORS rule.')
param allowedOrigins array = []

@description('Blob name prefixes ("container/") the lifecycle rule deletes from.')
param lifecycleDeletePrefixes array = []

@description('Delete blobs under lifecycleDeletePrefixes this many days after creation; 0: no lifecycle rule.')
@minValue(0)
param lifecycleDeleteAfterDays int = 0

@description('Enabled: reachable from the internet (Entra ID or user delegation SAS still required). Disabled: only through private endpoints.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    // Keyless: account keys and account-key SAS are refused. The app authenticates with its
    // managed identity and signs *user delegation* SAS (a key Entra issues to the identity).
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
      // Lets trusted Azure services (Event Grid's system topic, the Functions platform) in.
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    cors: {
      // Browsers PUT photos straight to Blob Storage with the SAS URLs the API hands out
      // (x-ms-blob-type and content-type headers) and GET thumbnails and photos.
      corsRules: empty(allowedOrigins)
        ? []
        : [
            {
              allowedOrigins: allowedOrigins
              allowedMethods: [
                'PUT'
                'GET'
                'HEAD'
                'OPTIONS'
              ]
              allowedHeaders: [
                'x-ms-blob-type'
                'content-type'
                'x-ms-*'
              ]
              exposedHeaders: [
                '*'
              ]
              maxAgeInSeconds: 3600
            }
          ]
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

// Retention of event photos and face thumbnails. Azure discards the uncommitted blocks of
// an abandoned browser upload (a PUT that never completed) after 7 days by itself, and the
// app deletes a blob whose event does not exist, so this rule is only for operators who
// want every photo gone N days after it was uploaded.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (lifecycleDeleteAfterDays > 0 && !empty(lifecycleDeletePrefixes)) {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-after-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: lifecycleDeletePrefixes
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: lifecycleDeleteAfterDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
