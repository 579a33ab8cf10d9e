// Aether-V Orchestrator: everything the function app needs in one resource group.
//
//   identity   user-assigned managed identity of the app (exists before the app, so its roles do too)
//   monitoring Log Analytics + Application Insights (Entra-only ingestion)
//   operations the operations workbook, alert rules and their action group (docs/operations.md)
//   storage    host storage, Durable task hub and the inventory tables (managed identity)
//   keyvault   WinRM password, seal key, content-share connection string (Elastic Premium only)
//   rbac       exactly the data-plane roles the app needs (+ optional roles for the deploying user)
//   api        plan + function app + app settings + optional App Service Authentication
//   connectivity, one of (parameter connectivity):
//     hybridConnection  relay: Azure Relay with one hybrid connection per Hyper-V host, linked to the app
//     vnet              regional VNet integration: network (a new VNet, peered with your hub: vnet-peering) or an
//                       existing subnet, and host-dns (a private DNS zone per host that has an address)
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
@description('App Service plan SKU. Hybrid Connections and VNet integration need Elastic Premium (EP*) or Dedicated (B*, S*, P*v3); Consumption does not offer them.')
param planSku string = 'EP1'

@minValue(1)
@maxValue(100)
@description('Elastic Premium only: the most instances the plan may scale out to.')
param maximumElasticWorkerCount int = 3

@description('Hyper-V hosts: [{"name": "hv01.corp.example.com", "port": 5986, "address": "10.20.0.11"}]. name is the DNS name the host\'s WinRM certificate carries; port defaults to 5986. hybridConnection: one hybrid connection per entry. vnet: an entry with address gets a private DNS zone for its name; leave address out when the VNet already resolves your on-premises names.')
param hyperVHosts array = []

@allowed([
  'hybridConnection'
  'vnet'
])
@description('How the app reaches the Hyper-V hosts. hybridConnection: Azure Relay hybrid connections and the Hybrid Connection Manager on-premises. vnet: regional VNet integration; the hosts are reached by private address over your site-to-site VPN or ExpressRoute. DEPLOYMENT.md, section 3.')
param connectivity string = 'hybridConnection'

@description('vnet: resource id of an existing subnet to integrate with, in the app\'s region, delegated to Microsoft.Web/serverFarms (/26 recommended), in a VNet that reaches the hosts. Empty: the template creates a VNet (vnetAddressPrefix) and peers it with hubVirtualNetworkId.')
param vnetIntegrationSubnetId string = ''

@description('vnet, no vnetIntegrationSubnetId: resource id of your existing hub VNet whose VPN or ExpressRoute gateway reaches the hosts. The new VNet is peered with it and uses its gateway; the deployment adds the hub\'s side of the peering (Network Contributor on the hub needed). Empty: no peering.')
param hubVirtualNetworkId string = ''

@description('vnet, no vnetIntegrationSubnetId: address space of the new VNet, all of it the integration subnet. Must not overlap the hub VNet or the on-premises networks.')
param vnetAddressPrefix string = '10.250.0.0/26'

@description('vnet, no vnetIntegrationSubnetId: DNS servers for the new VNet (e.g. on-premises DNS over the VPN). Empty: Azure DNS with the private DNS zones of the hosts that have an address.')
param vnetDnsServers array = []

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

@description('AETHERV_APPROVAL_HOSTS: hosts whose creates wait for an Admin\'s approval (comma-separated names; * for every host). Empty: none.')
param approvalHosts string = ''

@description('AETHERV_APPROVAL_CLUSTERS: failover clusters whose nodes\' creates wait for an Admin\'s approval (comma-separated). Empty: none.')
param approvalClusters string = ''

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

@description('Create an Event Grid custom topic for the app\'s events (AETHERV_EVENTGRID_ENDPOINT) and let the app publish to it.')
param enableEventGrid bool = true

@description('AETHERV_WEBHOOK_URLS: webhook receivers of the app\'s events (comma-separated https URLs). Empty: none.')
param webhookUrls string = ''

@secure()
@description('AETHERV_WEBHOOK_SECRET: `whsec_` + base64 of 24-64 random bytes (stored in Key Vault). Required with webhookUrls on the first deployment; later ones keep the stored value when empty.')
param webhookSecret string = ''

@description('AETHERV_EVENT_RETRY_HORIZON: seconds an event is retried before it is dead-lettered.')
param eventRetryHorizon string = '86400'

@description('AETHERV_BUILD_COMMIT reported by /api/healthz; empty leaves the app default.')
param buildCommit string = ''

@description('E-mail address the operations alerts (host disconnected, job failure rate, stale inventory) are sent to; empty: no receiver.')
param alertEmail string = ''

@allowed([5, 10, 15, 30, 45])
@description('Minutes a Hyper-V host must stay unreachable before the host-disconnected alert fires.')
param alertHostDisconnectedMinutes int = 15

@minValue(1)
@maxValue(100)
@description('Percentage of failed jobs in an hour above which the job-failure-rate alert fires.')
param alertJobFailureRatePercent int = 20

@minValue(5)
@maxValue(1440)
@description('Minutes without a successful inventory sync of a host after which the stale-inventory alert fires.')
param alertInventoryStaleMinutes int = 30

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

// Connectivity. Compound conditions are parenthesized: the parser checkov and tests/infra use has no operator
// precedence.
var useHybridConnections = connectivity == 'hybridConnection'
var useVnet = connectivity == 'vnet'
var createVnet = (useVnet && empty(vnetIntegrationSubnetId))
var peerWithHub = (createVnet && !empty(hubVirtualNetworkId))
var appVnetName = '${abbrs.networkVirtualNetworks}${resourceToken}'
var appSubnetName = '${abbrs.networkVirtualNetworksSubnets}functions'
// /subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<name>; a placeholder in this
// resource group while there is no hub, so that the (then skipped) hub peering still has a well-formed scope.
var hubVnetParts = split(peerWithHub ? hubVirtualNetworkId : '${rg.id}/providers/Microsoft.Network/virtualNetworks/none', '/')
// The VNet of an existing subnet: its id up to /subnets/.
var existingVnetId = join(take(split(vnetIntegrationSubnetId, '/'), 9), '/')
// The subnet the app joins: the new one, the given one, or none (hybrid connections).
var integrationSubnetId = useVnet ? (createVnet ? network.outputs.subnetId : vnetIntegrationSubnetId) : ''
// One DNS record per host name (duplicates, e.g. one host on two ports, collapse in union()).
var hostDnsEntries = [for h in hyperVHosts: {
  name: toLower(h.name)
  address: contains(h, 'address') ? h.address : ''
}]
var hostDnsRecords = union(hostDnsEntries, [])

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

module operations 'app/operations.bicep' = {
  name: 'operations'
  scope: rg
  params: {
    appInsightsId: monitoring.outputs.appInsightsId
    location: location
    tags: tags
    alertEmail: alertEmail
    hostDisconnectedMinutes: alertHostDisconnectedMinutes
    jobFailureRatePercent: alertJobFailureRatePercent
    inventoryStaleMinutes: alertInventoryStaleMinutes
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
    webhookSecret: webhookSecret
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

module events 'app/events.bicep' = if (enableEventGrid) {
  name: 'events'
  scope: rg
  params: {
    name: '${abbrs.eventGridDomainsTopics}${resourceToken}'
    location: location
    tags: tags
    appPrincipalId: identity.outputs.principalId
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
    approvalHosts: approvalHosts
    approvalClusters: approvalClusters
    eventGridEndpoint: enableEventGrid ? events.outputs.endpoint : ''
    webhookUrls: webhookUrls
    webhookSecretUri: keyVault.outputs.webhookSecretUri
    eventRetryHorizon: eventRetryHorizon
    entraTenantId: entraTenantId
    apiClientId: apiClientId
    apiAppIdUri: appIdUri
    enableEasyAuth: enableEasyAuth
    buildCommit: buildCommit
    vnetIntegrationSubnetId: integrationSubnetId
  }
  // The app starts with Key Vault references and identity-based storage: its roles must exist first.
  dependsOn: [
    rbac
  ]
}

module network 'app/network.bicep' = if (createVnet) {
  name: 'network'
  scope: rg
  params: {
    name: appVnetName
    subnetName: appSubnetName
    nsgName: '${abbrs.networkNetworkSecurityGroups}${resourceToken}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    dnsServers: vnetDnsServers
  }
}

// The hub's side first: Azure accepts useRemoteGateways only once the hub's peering allows gateway transit.
module hubPeering 'app/vnet-peering.bicep' = if (peerWithHub) {
  name: 'aetherv-hub-peering-${resourceToken}'
  scope: resourceGroup(hubVnetParts[2], hubVnetParts[4])
  params: {
    localVnetName: last(hubVnetParts)
    name: 'peer-${appVnetName}'
    remoteVnetId: network.outputs.vnetId
    allowGatewayTransit: true
    useRemoteGateways: false
  }
}

module appPeering 'app/vnet-peering.bicep' = if (peerWithHub) {
  name: 'app-peering'
  scope: rg
  params: {
    localVnetName: appVnetName
    name: 'peer-${last(hubVnetParts)}'
    remoteVnetId: hubVirtualNetworkId
    allowGatewayTransit: false
    useRemoteGateways: true
  }
  dependsOn: [
    hubPeering
    network
  ]
}

module hostDns 'app/host-dns.bicep' = if (useVnet) {
  name: 'host-dns'
  scope: rg
  params: {
    tags: tags
    records: hostDnsRecords
    virtualNetworkId: createVnet ? network.outputs.vnetId : existingVnetId
  }
}

module relay 'app/relay.bicep' = if (useHybridConnections) {
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
output AETHERV_CONNECTIVITY string = connectivity
output AETHERV_RELAY_NAMESPACE string = useHybridConnections ? relay.outputs.namespaceName : ''
output AETHERV_HYBRID_CONNECTIONS array = useHybridConnections ? relay.outputs.hybridConnections : []
output AETHERV_VNET_INTEGRATION_SUBNET_ID string = integrationSubnetId
output AETHERV_HOST_DNS_ZONES array = useVnet ? hostDns.outputs.zones : []
output AETHERV_EVENTGRID_TOPIC string = enableEventGrid ? events.outputs.name : ''
