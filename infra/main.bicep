// Aether-V Orchestrator: everything the function app needs in one resource group.
//
//   identity   user-assigned managed identity of the app (exists before the app, so its roles do too)
//   monitoring Log Analytics + Application Insights (Entra-only ingestion)
//   storage    host storage, Durable task hub and the inventory tables (managed identity)
//   keyvault   WinRM password, seal key, content-share connection string (Elastic Premium only)
//   rbac       exactly the data-plane roles the app needs (+ optional roles for the deploying user)
//   api        plan + function app + app settings + optional App Service Authentication
//   relay      Azure Relay with one hybrid connection per Hyper-V host, linked to the app
//
// Deploy with `azd up` (parameters from main.parameters.json) or `az deployment sub create` (see DEPLOYMENT.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used in resource names and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Azure region for all resources.')
param location string

@description('Resource group to create; empty means rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the deploying user or CI principal. When set, it gets the storage data roles (to run the app locally against the Azure account) and Key Vault Secrets Officer (to rotate secrets).')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
@description('Type of principalId.')
param principalType string = 'User'

@allowed([
  'EP1'
  'EP2'
  'EP3'
  'B1'
  'B2'
  'B3'
  'S1'
  'S2'
  'S3'
  'P0v3'
  'P1v3'
  'P2v3'
  'P3v3'
])
@description('App Service plan SKU. Hybrid Connections need Elastic Premium (EP*) or Dedicated (B*, S*, P*v3); Consumption and Flex Consumption do not offer them.')
param planSku string = 'EP1'

@minValue(1)
@maxValue(100)
@description('Elastic Premium only: the most instances the plan may scale out to.')
param maximumElasticWorkerCount int = 3

@description('Hyper-V hosts, one hybrid connection each: [{"name": "hv01.corp.example.com", "port": 5986}]. name is the DNS name the host\'s WinRM certificate carries; port defaults to 5986.')
param hyperVHosts array = []

@description('AETHERV_WINRM_USERNAME: the account used on the Hyper-V hosts, e.g. CORP\\svc-aetherv.')
param winrmUsername string = ''

@secure()
@description('AETHERV_WINRM_PASSWORD, stored in Key Vault. Written only when given: leave empty on later deployments to keep (or rotate in Key Vault) the stored value.')
param winrmPassword string = ''

// Only transports the deployed build can use: pywinrm brings NTLM and Basic. CredSSP needs requests-credssp and
// Kerberos needs gssapi, neither of which requirements.txt installs, so the app would refuse them at start-up.
@allowed([
  'ntlm'
  'basic'
])
@description('AETHERV_WINRM_TRANSPORT: ntlm (default, over HTTPS) or basic (local accounts only, HTTPS only).')
param winrmTransport string = 'ntlm'

@description('AETHERV_WINRM_CA_BUNDLE: path of the PEM CA bundle that signs the hosts\' WinRM certificates, e.g. /home/site/wwwroot/certs/winrm-ca.pem (shipped with the app package). Empty uses the system store.')
param winrmCaBundlePath string = ''

@description('AETHERV_ENTRA_TENANT_ID: the tenant that issues the API\'s tokens.')
param entraTenantId string = subscription().tenantId

@minLength(36)
@maxLength(36)
@description('AETHERV_ENTRA_CLIENT_ID: application (client) id of the API\'s app registration (see DEPLOYMENT.md).')
param apiClientId string

@description('AETHERV_ENTRA_APP_ID_URI: the API\'s Application ID URI; empty means api://<apiClientId>.')
param apiAppIdUri string = ''

@description('Put App Service Authentication (Easy Auth) in front of the app. The app then trusts its principal header (AETHERV_EASY_AUTH_ENABLED=true) and still validates bearer tokens itself.')
param enableEasyAuth bool = false

@secure()
@description('AETHERV_SEAL_KEY as base64 of 32 bytes (openssl rand -base64 32). Empty: derived from sealKeySeed.')
param sealKey string = ''

@secure()
@minLength(32)
@maxLength(32)
@metadata({
  azd: {
    type: 'generate'
    config: {
      length: 32
      noSpecial: true
    }
  }
})
@description('32 random characters the seal key is derived from when sealKey is empty (the key is their 32 bytes, base64-encoded). azd generates it on the first provision and keeps it in the environment; with the az CLI pass the same value every time (openssl rand -base64 24).')
param sealKeySeed string

@minLength(3)
@maxLength(45)
@description('AETHERV_TASK_HUB: the Durable task hub (host.json hubName). Change it to start on an empty hub, e.g. for an upgrade that changes orchestration code incompatibly.')
param taskHubName string = 'AetherV'

@description('AETHERV_BUILD_COMMIT reported by /api/healthz; empty leaves the app default.')
param buildCommit string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var isElasticPremium = startsWith(planSku, 'EP')
var appIdUri = empty(apiAppIdUri) ? 'api://${apiClientId}' : apiAppIdUri

// One entry per Hyper-V host: the hybrid connection, its endpoint and the AETHERV_HOSTS item all come from here.
var hybridConnections = [for h in hyperVHosts: {
  name: '${replace(toLower(h.name), '.', '-')}-${contains(h, 'port') ? h.port : 5986}'
  hostname: h.name
  port: contains(h, 'port') ? h.port : 5986
}]
var hostEndpoints = [for c in hybridConnections: '${c.hostname}:${c.port}']
var aethervHosts = join(hostEndpoints, ',')

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? '${abbrs.resourcesResourceGroups}${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    appInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    contentShareName: isElasticPremium ? functionAppName : ''
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    winrmPassword: winrmPassword
    sealKey: empty(sealKey) ? base64(sealKeySeed) : sealKey
    contentStorageAccountName: isElasticPremium ? storage.outputs.name : ''
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    developerPrincipalId: principalId
    developerPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    planSku: planSku
    maximumElasticWorkerCount: maximumElasticWorkerCount
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageEndpoints: {
      blob: storage.outputs.blobEndpoint
      queue: storage.outputs.queueEndpoint
      table: storage.outputs.tableEndpoint
    }
    contentShareName: storage.outputs.contentShareName
    appInsightsConnectionString: monitoring.outputs.connectionString
    winrmPasswordSecretUri: keyVault.outputs.winrmPasswordSecretUri
    sealKeySecretUri: keyVault.outputs.sealKeySecretUri
    contentConnectionSecretUri: keyVault.outputs.contentConnectionSecretUri
    taskHubName: taskHubName
    aethervHosts: aethervHosts
    winrmUsername: winrmUsername
    winrmTransport: winrmTransport
    winrmCaBundlePath: winrmCaBundlePath
    entraTenantId: entraTenantId
    apiClientId: apiClientId
    apiAppIdUri: appIdUri
    enableEasyAuth: enableEasyAuth
    buildCommit: buildCommit
  }
  // The app starts with Key Vault references and identity-based storage: its roles must exist first.
  dependsOn: [
    rbac
  ]
}

module relay 'app/relay.bicep' = {
  name: 'relay'
  scope: rg
  params: {
    name: '${abbrs.relayNamespaces}${resourceToken}'
    location: location
    tags: tags
    functionAppName: api.outputs.name
    hybridConnections: hybridConnections
  }
}

// azd environment values (azd env get-values) and what DEPLOYMENT.md asks you to copy.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = entraTenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output AZURE_FUNCTION_URI string = 'https://${api.outputs.defaultHostName}'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AETHERV_API_BASE_URL string = 'https://${api.outputs.defaultHostName}/api/v1'
output AETHERV_API_APP_ID_URI string = appIdUri
output AETHERV_APP_PRINCIPAL_ID string = identity.outputs.principalId
output AETHERV_APP_CLIENT_ID string = identity.outputs.clientId
output AETHERV_RELAY_NAMESPACE string = relay.outputs.namespaceName
output AETHERV_HYBRID_CONNECTIONS array = relay.outputs.hybridConnections
