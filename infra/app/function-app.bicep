// The Flex Consumption plan and Function App (Linux, Python 3.12), running as the
// user-assigned managed identity: every connection below is identity-based, no key or
// password is stored anywhere.
//
// Plain resources rather than the AVM web/site and web/serverfarm modules: web/site's
// app-settings child adds settings of its own (AzureWebJobsStorage with an account key
// unless told otherwise, ApplicationInsightsAgent_EXTENSION_VERSION since 0.20), and
// ALL app settings must stay in the one `appSettings` literal below, which is the contract
// with kanta/config.py that tests/test_infra.py checks.

param name string
param planName string
param location string
param tags object = {}

@description('Resource id, client id and name of the user-assigned managed identity.')
param identityResourceId string
param identityClientId string
param identityName string

param hostAccountName string
param uploadsAccountName string

@description('Blob container of the host account that receives the deployment package.')
param deploymentContainerName string

param appInsightsName string

@description('FQDN of the PostgreSQL server and the database name.')
param postgresHost string
param postgresDatabase string

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Subnet (delegated to Microsoft.App/environments) for outbound VNet integration; empty: none.')
param subnetId string = ''

resource hostAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostAccountName
}

resource uploadsAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: uploadsAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Every app setting of the Function App, one per line (tests/test_infra.py parses this).
// FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION are deliberately absent: Flex
// Consumption rejects them; the runtime is functionAppConfig.runtime below.
var appSettings = {
  // Host storage (AzureWebJobsStorage), identity-based.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: hostAccount.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: hostAccount.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: hostAccount.properties.primaryEndpoints.table
  // Uploads account: the blob trigger binding (connection KANTA_STORAGE needs blob + queue)
  // and kanta/storage.py (blob client, user delegation SAS).
  KANTA_STORAGE__credential: 'managedidentity'
  KANTA_STORAGE__clientId: identityClientId
  KANTA_STORAGE__blobServiceUri: uploadsAccount.properties.primaryEndpoints.blob
  KANTA_STORAGE__queueServiceUri: uploadsAccount.properties.primaryEndpoints.queue
  // Flex Consumption has no polling blob trigger; the postdeploy hook subscribes Event Grid.
  KANTA_BLOB_TRIGGER_SOURCE: 'EventGrid'
  // No password: the identity logs in as the Entra role named after it, with a token.
  KANTA_DATABASE_URL: 'host=${postgresHost} port=5432 dbname=${postgresDatabase} user=${identityName} sslmode=require'
  KANTA_DATABASE_AUTH: 'entra'
  KANTA_DATABASE_CLIENT_ID: identityClientId
  KANTA_RECLUSTER_SCHEDULE: '0 */10 * * * *'
  // Application Insights with local auth disabled: telemetry is sent with an Entra token.
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd deploys service "api" (azure.yaml) to the resource carrying this tag.
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityResourceId
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostAccount.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.12'
      }
    }
  }
}

resource functionAppSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: appSettings
}

output name string = functionApp.name
output id string = functionApp.id
output defaultHostName string = functionApp.properties.defaultHostName
