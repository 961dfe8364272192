// Private endpoints (vnetEnabled) so that the Function App reaches the host storage account,
// the uploads account and PostgreSQL over the VNet, with privatelink DNS zones linked to it.
//
// PostgreSQL uses a private endpoint rather than delegated-subnet ("VNet integration") mode:
// a delegated-subnet server can never have public access, so the postprovision hook (run on
// the deploying machine) could not reach it; with a private endpoint the server can keep a
// single firewall rule for the deploying client's IP (clientIpAddress) and nothing else.
// The uploads account keeps public access for browsers; its endpoints here only give the
// app a private path to it.

param location string
param tags object = {}
param vnetId string
param subnetId string
param hostAccountId string
param uploadsAccountId string
param postgresServerId string

@description('Suffix that makes endpoint names unique in the resource group.')
param nameSuffix string

var zoneNames = [
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  'privatelink.postgres.database.azure.com'
]

// zone: index into zoneNames.
var endpoints = [
  {
    name: 'pe-host-blob'
    target: hostAccountId
    group: 'blob'
    zone: 0
  }
  {
    name: 'pe-host-queue'
    target: hostAccountId
    group: 'queue'
    zone: 1
  }
  {
    name: 'pe-host-table'
    target: hostAccountId
    group: 'table'
    zone: 2
  }
  {
    name: 'pe-uploads-blob'
    target: uploadsAccountId
    group: 'blob'
    zone: 0
  }
  {
    name: 'pe-uploads-queue'
    target: uploadsAccountId
    group: 'queue'
    zone: 1
  }
  {
    name: 'pe-postgres'
    target: postgresServerId
    group: 'postgresqlServer'
    zone: 3
  }
]

resource dnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [
  for zoneName in zoneNames: {
    name: zoneName
    location: 'global'
    tags: tags
  }
]

resource dnsZoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [
  for (zoneName, i) in zoneNames: {
    parent: dnsZones[i]
    name: 'vnet-link'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnetId
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2023-11-01' = [
  for endpoint in endpoints: {
    name: '${endpoint.name}-${nameSuffix}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: subnetId
      }
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: {
            privateLinkServiceId: endpoint.target
            groupIds: [
              endpoint.group
            ]
          }
        }
      ]
    }
  }
]

resource dnsZoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: 'zone'
          properties: {
            privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', zoneNames[endpoint.zone])
          }
        }
      ]
    }
    dependsOn: [
      dnsZones
    ]
  }
]
