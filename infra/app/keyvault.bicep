// Key Vault in RBAC mode with soft delete and purge protection, holding the app's secrets. The app reads them through
// Key Vault references (@Microsoft.KeyVault(SecretUri=...)) resolved with its identity (Key Vault Secrets User).
//
// A secret coming from a parameter is written only when the parameter is given, so a later deployment without it
// keeps the stored value (and a value rotated directly in Key Vault). The content-share connection string is
// rebuilt from the storage account key on every deployment.
param name string
param location string
param tags object

@secure()
param winrmPassword string = ''

@secure()
param sealKey string

@secure()
@description('The webhooks\' signing secret (whsec_...); written only when given.')
param webhookSecret string = ''

@description('Storage account whose key-based connection string the Elastic Premium content share needs; empty on Dedicated plans.')
param contentStorageAccountName string = ''

@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

var winrmPasswordSecretName = 'aetherv-winrm-password'
var sealKeySecretName = 'aetherv-seal-key'
var webhookSecretName = 'aetherv-webhook-secret'
var contentConnectionSecretName = 'aetherv-content-share-connection'
var needsContentConnection = !empty(contentStorageAccountName)

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: App Service resolves Key Vault references over the public endpoint when the app has no VNet integration; access is RBAC-only.
  // checkov:skip=CKV_AZURE_189: Same as CKV_AZURE_109.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource winrmPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(winrmPassword)) {
  // checkov:skip=CKV_AZURE_41: An expiry date would silently break the Key Vault reference and the app; rotate instead (DEPLOYMENT.md).
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not look inside conditional (if) resources.
  parent: vault
  name: winrmPasswordSecretName
  properties: {
    value: winrmPassword
    contentType: 'text/plain; WinRM account password (AETHERV_WINRM_PASSWORD)'
  }
}

resource sealKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: An expiry date would silently break the Key Vault reference and the app; rotate instead (DEPLOYMENT.md).
  parent: vault
  name: sealKeySecretName
  properties: {
    value: sealKey
    contentType: 'application/octet-stream; base64, 32 bytes (AETHERV_SEAL_KEY)'
  }
}

resource webhookSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookSecret)) {
  // checkov:skip=CKV_AZURE_41: An expiry date would silently break the Key Vault reference and the app; rotate instead (DEPLOYMENT.md).
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not look inside conditional (if) resources.
  parent: vault
  name: webhookSecretName
  properties: {
    value: webhookSecret
    contentType: 'text/plain; Standard Webhooks signing secret (AETHERV_WEBHOOK_SECRET)'
  }
}

resource contentStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (needsContentConnection) {
  name: needsContentConnection ? contentStorageAccountName : 'unused'
}

// The one key-based storage credential: Azure Files content of Elastic Premium apps cannot use an identity.
resource contentConnectionSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (needsContentConnection) {
  // checkov:skip=CKV_AZURE_41: An expiry date would silently break the Key Vault reference and the app; rotate instead (DEPLOYMENT.md).
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not look inside conditional (if) resources.
  parent: vault
  name: contentConnectionSecretName
  properties: {
    value: 'DefaultEndpointsProtocol=https;AccountName=${contentStorage.name};AccountKey=${contentStorage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
    contentType: 'text/plain; storage connection string for WEBSITE_CONTENTAZUREFILECONNECTIONSTRING'
  }
}

output name string = vault.name
output id string = vault.id
// Versionless URIs: the app follows the latest version of each secret.
output winrmPasswordSecretUri string = '${vault.properties.vaultUri}secrets/${winrmPasswordSecretName}'
output webhookSecretUri string = '${vault.properties.vaultUri}secrets/${webhookSecretName}'
output sealKeySecretUri string = '${vault.properties.vaultUri}secrets/${sealKeySecretName}'
output contentConnectionSecretUri string = needsContentConnection ? '${vault.properties.vaultUri}secrets/${contentConnectionSecretName}' : ''
