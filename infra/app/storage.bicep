// One account for the Functions host, the Durable task hub (blobs, queues, tables) and the app's inventory tables.
// The app reaches it with its managed identity (AzureWebJobsStorage__accountName/__credential/__clientId).
//
// Shared-key access stays enabled only when an Elastic Premium content share is needed: Azure Files content for
// EP apps (WEBSITE_CONTENTAZUREFILECONNECTIONSTRING) only takes a key-based connection string. That string lives
// in Key Vault (keyvault.bicep); on Dedicated plans there is no content share and shared keys are disabled.
param name string
param location string
param tags object

@description('Azure Files share for the Elastic Premium content; empty on Dedicated plans (no share, no shared keys).')
param contentShareName string = ''

@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_LRS'

var needsContentShare = !empty(contentShareName)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: No VNet in this template: the app reaches storage over the public endpoint with Entra ID. Private endpoints need VNet integration.
  // checkov:skip=CKV_AZURE_59: Same as CKV_AZURE_35; anonymous blob access and (except for the EP content share) shared keys are disabled.
  // checkov:skip=CKV_AZURE_206: Replication is the skuName parameter; LRS suits a task hub and an inventory cache that the sync rebuilds.
  // checkov:skip=CKV_AZURE_43: The name is main.bicep's 'st' + toLower(uniqueString()), 15 lowercase letters and digits; checkov's verdict on this cross-module name varies between identical runs. tests/infra/test_security_settings.py checks the rule.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: needsContentShare
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource fileServices 'Microsoft.Storage/storageAccounts/fileServices@2023-05-01' = if (needsContentShare) {
  parent: storage
  name: 'default'
  properties: {
    shareDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Created here because WEBSITE_SKIP_CONTENTSHARE_VALIDATION=1 (needed for the Key Vault reference) stops
// App Service from creating it.
resource contentShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-05-01' = if (needsContentShare) {
  parent: fileServices
  name: needsContentShare ? contentShareName : 'unused'
  properties: {
    shareQuota: 100
    enabledProtocols: 'SMB'
  }
}

output name string = storage.name
output id string = storage.id
output contentShareName string = contentShareName
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
