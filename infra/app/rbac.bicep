// Least-privilege data-plane roles for the app's user-assigned managed identity, each at the
// scope of one resource (never the resource group or subscription). Built-in role
// definition GUIDs are the same in every tenant (Learn: "Azure built-in roles").

@description('Object (principal) id of the user-assigned managed identity.')
param principalId string

param hostAccountName string
param uploadsAccountName string
param appInsightsName string

resource hostAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostAccountName
}

resource uploadsAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: uploadsAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Uploads account: the blob trigger (connection KANTA_STORAGE) and the upload/read SAS URLs.
var uploadsRoleIds = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner: the role Learn lists for the blob trigger; the app also writes thumbnails, deletes blobs
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor: the blob trigger's internal queue and poison queue
  'db58b8e5-c6ad-4a2a-8342-4190687cbf4a' // Storage Blob Delegator: get a user delegation key to sign SAS URLs
]

// Host account (AzureWebJobsStorage): host locks, timers, keys, and the deployment package.
var hostRoleIds = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner: host blobs and the deployment container
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor: host queues
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor: host tables
]

// Application Insights with local auth disabled accepts only Entra-authenticated telemetry.
var appInsightsRoleIds = [
  '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher: send telemetry
]

resource uploadsRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in uploadsRoleIds: {
    name: guid(uploadsAccount.id, principalId, roleId)
    scope: uploadsAccount
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource hostRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in hostRoleIds: {
    name: guid(hostAccount.id, principalId, roleId)
    scope: hostAccount
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appInsightsRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in appInsightsRoleIds: {
    name: guid(appInsights.id, principalId, roleId)
    scope: appInsights
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]
