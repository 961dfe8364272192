// Azure Database for PostgreSQL Flexible Server, Entra ID authentication only (no password
// exists: passwordAuth is Disabled and no administratorLogin is set). The deploying user is
// the Entra administrator; the postprovision hook uses that to create the app's role.
//
// Plain resources rather than the AVM flexible-server module: its interface changed across
// versions (allowed `version` values, networking parameters) and the child resources below
// must be written one after another (see the note at `extensions`).

param name string
param location string
param tags object = {}

@description('Compute SKU, e.g. Standard_B1ms (Burstable), Standard_D2ds_v5 (GeneralPurpose).')
param skuName string

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string

param databaseName string

@description('Object id of the Entra administrator (the deploying user or service principal).')
param administratorObjectId string

@description('UPN (user) or display name (group, service principal) of the Entra administrator.')
param administratorName string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param administratorType string

@description('Add the "all Azure services" firewall rule (0.0.0.0); used when the app reaches the server over the internet.')
param allowAzureServices bool

@description('Public IP of the deploying machine, for the postprovision hook; empty: no rule.')
param clientIpAddress string = ''

@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: '16'
    createMode: 'Default'
    storage: {
      storageSizeGB: 32
    }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenant().tenantId
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: publicNetworkAccess
    }
  }
}

// The children below are chained with dependsOn: the server accepts one change at a time
// and answers a concurrent one with ServerIsBusy (Azure/bicep-registry-modules#4289,
// Altinn/dialogporten#3663). ARM ignores a dependsOn on a skipped conditional resource.

// Allow-list pgvector; `CREATE EXTENSION vector` itself runs in the postprovision hook.
resource extensions 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'azure.extensions'
  properties: {
    value: 'VECTOR'
    source: 'user-override'
  }
}

resource administrator 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: administratorObjectId
  properties: {
    principalName: administratorName
    principalType: administratorType
    tenantId: tenant().tenantId
  }
  dependsOn: [
    extensions
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    administrator
  ]
}

resource allowAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
  ]
}

resource allowClient 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!empty(clientIpAddress)) {
  parent: server
  name: 'AllowDeployingClient'
  properties: {
    startIpAddress: clientIpAddress
    endIpAddress: clientIpAddress
  }
  dependsOn: [
    database
    allowAzure
  ]
}

output name string = server.name
output id string = server.id
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
