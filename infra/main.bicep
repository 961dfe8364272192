// Kanta on Azure (`azd up`): a Flex Consumption Function App whose only credential is a
// user-assigned managed identity, two keyless storage accounts, PostgreSQL with Entra-only
// auth, Application Insights with keyless ingestion, and optional private networking.
// See infra/README.md for what each file creates and what the hooks do.

targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment: names the resource group, seeds resource names, tags everything.')
param environmentName string

@minLength(1)
@description('Region of every resource; it must offer Flex Consumption and PostgreSQL Flexible Server.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user (azd passes AZURE_PRINCIPAL_ID); becomes the PostgreSQL Entra administrator.')
@minLength(1)
param principalId string

@description('Kind of principalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('UPN of the deploying user (display name for a group or service principal). azd does not pass it: the preprovision hook sets AZURE_PRINCIPAL_NAME, or run `azd env set AZURE_PRINCIPAL_NAME you@example.com`.')
@minLength(1)
param principalName string

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Browser origins allowed to PUT/GET blobs of the uploads account with SAS URLs (CORS) besides the Function App\'s own (the guest page), e.g. ["https://photos.example.com"].')
param allowedOrigins array = []

@description('Delete photos and thumbnails this many days after upload; 0: keep them (no lifecycle rule).')
@minValue(0)
param uploadRetentionDays int = 0

@description('Upper bound of Function App instances (Flex Consumption scale-out).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('PostgreSQL compute SKU name.')
param postgresSkuName string = 'Standard_B1ms'

@description('PostgreSQL compute tier; must match postgresSkuName.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

@description('Public IP of the machine running azd, allowed through the PostgreSQL firewall so the postprovision hook can create the app\'s database role; empty: no rule.')
param clientIpAddress string = ''

@description('Private networking: VNet integration for the Function App and private endpoints for host storage, uploads storage and PostgreSQL.')
param vnetEnabled bool = false

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var databaseName = 'kanta'
var uploadsContainer = 'uploads'
var facesContainer = 'faces'
var deploymentContainerName = 'app-package'
var uploadsSystemTopicName = 'evgt-uploads-${resourceToken}'
var functionAppName = 'func-kanta-${resourceToken}'
// The guest page is served by the Function App itself (GET /api/join/{code}): its origin
// always may PUT photos to and GET photos from the uploads account; allowedOrigins adds others.
var appOrigin = 'https://${functionAppName}.azurewebsites.net'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

// The app's only credential.
module identity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-kanta-${resourceToken}'
    location: location
    tags: tags
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'log-analytics'
  scope: rg
  params: {
    name: 'log-kanta-${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module appInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'app-insights'
  scope: rg
  params: {
    name: 'appi-kanta-${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Keyless ingestion: only Entra-authenticated telemetry is accepted (the identity has
    // Monitoring Metrics Publisher, see app/rbac.bicep).
    disableLocalAuth: true
  }
}

module network 'app/network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-kanta-${resourceToken}'
    location: location
    tags: tags
  }
}

// AzureWebJobsStorage and the deployment package. Private when vnetEnabled.
module hostStorage 'app/storage-account.bicep' = {
  name: 'host-storage'
  scope: rg
  params: {
    name: 'sthost${resourceToken}'
    location: location
    tags: tags
    containers: [
      deploymentContainerName
    ]
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
  }
}

// Event photos and face thumbnails. Public network access stays enabled even when
// vnetEnabled: guests' browsers upload to it directly with SAS URLs; every request still
// needs Entra ID or a user delegation SAS (shared keys are disabled).
// Blobs no photo claims are swept by the app (sweep_uploads_timer), not a lifecycle rule: infra/README.md.
module uploadsStorage 'app/storage-account.bicep' = {
  name: 'uploads-storage'
  scope: rg
  params: {
    name: 'stupl${resourceToken}'
    location: location
    tags: tags
    containers: [
      uploadsContainer
      facesContainer
    ]
    allowedOrigins: union([appOrigin], allowedOrigins)
    lifecycleDeletePrefixes: [
      '${uploadsContainer}/'
      '${facesContainer}/'
    ]
    lifecycleDeleteAfterDays: uploadRetentionDays
    publicNetworkAccess: 'Enabled'
  }
}

// BlobCreated events of the uploads account; the postdeploy hook subscribes the blob
// trigger's webhook to it (it needs the deployed app's blobs_extension key).
module uploadsSystemTopic 'br/public:avm/res/event-grid/system-topic:0.6.1' = {
  name: 'uploads-system-topic'
  scope: rg
  params: {
    name: uploadsSystemTopicName
    location: location
    tags: tags
    source: uploadsStorage.outputs.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

module postgres 'app/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-kanta-${resourceToken}'
    location: location
    tags: tags
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    databaseName: databaseName
    administratorObjectId: principalId
    administratorName: principalName
    administratorType: principalType
    // Without private networking the app reaches the server over Azure's public IPs.
    allowAzureServices: !vnetEnabled
    clientIpAddress: clientIpAddress
    // With private networking, public access only for the deploying client's firewall rule.
    publicNetworkAccess: vnetEnabled && empty(clientIpAddress) ? 'Disabled' : 'Enabled'
  }
}

module privateEndpoints 'app/private-endpoints.bicep' = if (vnetEnabled) {
  name: 'private-endpoints'
  scope: rg
  params: {
    location: location
    tags: tags
    // The ternaries keep ARM from evaluating the skipped module's outputs; `!` marks
    // `network` (same condition) as deployed wherever they are read.
    vnetId: vnetEnabled ? network!.outputs.id : ''
    subnetId: vnetEnabled ? network!.outputs.privateEndpointSubnetId : ''
    hostAccountId: hostStorage.outputs.id
    uploadsAccountId: uploadsStorage.outputs.id
    postgresServerId: postgres.outputs.id
    nameSuffix: resourceToken
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    hostAccountName: hostStorage.outputs.name
    uploadsAccountName: uploadsStorage.outputs.name
    appInsightsName: appInsights.outputs.name
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-kanta-${resourceToken}'
    location: location
    tags: tags
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    identityName: identity.outputs.name
    hostAccountName: hostStorage.outputs.name
    uploadsAccountName: uploadsStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: appInsights.outputs.name
    postgresHost: postgres.outputs.fqdn
    postgresDatabase: postgres.outputs.databaseName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: 2048
    subnetId: vnetEnabled ? network!.outputs.appSubnetId : ''
  }
  // The app's first start already finds its storage and telemetry roles in place.
  dependsOn: [
    rbac
  ]
}

// Outputs: azd stores them in .azure/<env>/.env; the hooks read them from the environment.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_IDENTITY_NAME string = identity.outputs.name
output AZURE_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_HOST_ACCOUNT_NAME string = hostStorage.outputs.name
output AZURE_UPLOADS_ACCOUNT_NAME string = uploadsStorage.outputs.name
output AZURE_UPLOADS_ACCOUNT_ID string = uploadsStorage.outputs.id
output AZURE_UPLOADS_BLOB_ENDPOINT string = uploadsStorage.outputs.blobEndpoint
output AZURE_UPLOADS_SYSTEM_TOPIC_NAME string = uploadsSystemTopicName
output POSTGRES_SERVER_NAME string = postgres.outputs.name
output POSTGRES_HOST string = postgres.outputs.fqdn
output POSTGRES_DATABASE string = postgres.outputs.databaseName
output POSTGRES_ADMIN_NAME string = principalName
output AZURE_VNET_ENABLED bool = vnetEnabled
