// The function app: a Linux plan that offers Hybrid Connections and VNet integration (Elastic Premium or Dedicated),
// Python 3.11 on Functions v4, the user-assigned identity from identity.bicep, and every app setting the app reads
// that the app's own default does not already get right in Azure (see DEPLOYMENT.md, "App settings").
param name string
param planName string
param location string
param tags object

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
param planSku string = 'EP1'
param maximumElasticWorkerCount int = 3

@description('Resource id and client id of the app\'s user-assigned identity.')
param identityId string
param identityClientId string

param storageAccountName string

@description('Blob, queue and table endpoints of the storage account (primaryEndpoints).')
param storageEndpoints object

@description('Azure Files share for the Elastic Premium content; empty on Dedicated plans.')
param contentShareName string = ''
param appInsightsConnectionString string

@description('Versionless Key Vault secret URIs (keyvault.bicep outputs).')
param winrmPasswordSecretUri string
param sealKeySecretUri string
param contentConnectionSecretUri string = ''

param taskHubName string
@description('AETHERV_HOSTS: comma-separated host:port, built from the same array as the hybrid connections.')
param aethervHosts string
param winrmUsername string
@description('AETHERV_WINRM_TRANSPORT; the transports the build supports (see main.bicep).')
@allowed([
  'ntlm'
  'basic'
])
param winrmTransport string
param winrmCaBundlePath string
@description('AETHERV_APPROVAL_HOSTS and AETHERV_APPROVAL_CLUSTERS: which creates wait for an Admin\'s approval.')
param approvalHosts string = ''
param approvalClusters string = ''
@description('AETHERV_EVENTGRID_ENDPOINT: the Event Grid topic the app publishes to (empty: none).')
param eventGridEndpoint string = ''
@description('AETHERV_WEBHOOK_URLS: webhook receivers (empty: none); their secret is the Key Vault secret at webhookSecretUri.')
param webhookUrls string = ''
param webhookSecretUri string = ''
param eventRetryHorizon string = '86400'
param entraTenantId string
param apiClientId string
param apiAppIdUri string
param enableEasyAuth bool = false

param buildCommit string = ''

@description('Regional VNet integration (connectivity = vnet): the delegated subnet the app joins. Empty: none (hybrid connections).')
param vnetIntegrationSubnetId string = ''

var planTiers = {
  EP1: 'ElasticPremium'
  EP2: 'ElasticPremium'
  EP3: 'ElasticPremium'
  B1: 'Basic'
  B2: 'Basic'
  B3: 'Basic'
  S1: 'Standard'
  S2: 'Standard'
  S3: 'Standard'
  P0v3: 'PremiumV3'
  P1v3: 'PremiumV3'
  P2v3: 'PremiumV3'
  P3v3: 'PremiumV3'
}
var isElasticPremium = startsWith(planSku, 'EP')
var useVnet = !empty(vnetIntegrationSubnetId)
var loginEndpoint = environment().authentication.loginEndpoint

// The Python worker's thread pool, per instance (DEPLOYMENT.md, "Threads and concurrency"). Synchronous functions
// (activities, orchestrator and entity episodes, HTTP handlers) all run in ONE pool of PYTHON_THREADPOOL_THREAD_COUNT
// threads; the host does not know its size, so work it dispatches beyond it waits inside the worker, invisibly,
// with its functionTimeout already running. Unset, Python 3.9+ gets ThreadPoolExecutor's default
// min(32, os.cpu_count() + 4): 5 threads on EP1, 6 on EP2, 8 on EP3 (Azure/azure-functions-python-worker,
// workers/azure_functions_worker/dispatcher.py, Dispatcher._get_sync_tp_max_workers: no default for Python >= 3.9
// since PR #1575; runtimes/v2/azure_functions_runtime/utils/threadpool.py, _get_max_workers, likewise). One worker
// process (FUNCTIONS_WORKER_PROCESS_COUNT unset = 1) holds one GIL, so a bigger SKU adds no Python throughput: the
// same budget serves EP1, EP2 and EP3.
var activitySlots = 10 // = host.json extensions.durableTask.maxConcurrentActivityFunctions (WinRM and Table I/O)
var orchestratorSlots = 6 // = host.json extensions.durableTask.maxConcurrentOrchestratorFunctions (also entities)
var httpHandlerSlots = 8 // headroom for synchronous HTTP handlers: API reads, dashboard, health, host probe
var pythonThreadCount = activitySlots + orchestratorSlots + httpHandlerSlots

// Every path the app serves without a token, which App Service Authentication must let through when it is on
// (globalValidation.excludedPaths): the dashboard's page for each client-side route, its assets and sign-in files
// (it signs users in itself with MSAL.js), the health routes and the API's OpenAPI document and docs page. An entry
// matches its path exactly; a trailing /* matches everything below it (MicrosoftDocs/azure-docs#86514). /api/v1/...
// is not listed: the module validates those tokens in front of the app, which validates them again.
// tests/infra/test_easy_auth.py derives the anonymous paths from the app's route declarations.
var easyAuthExcludedPaths = [
  '/'
  '/vms'
  '/vms/*'
  '/jobs'
  '/jobs/*'
  '/hosts/*'
  '/ip-pools'
  '/ip-pools/*'
  '/ui/*'
  '/ui-config.json'
  '/auth/redirect'
  '/api/healthz'
  '/api/readyz'
  '/api/openapi.json'
  '/api/docs'
  '/api/docs/*'
]

// Settings of the platform and of the app (functions/settings.py). Secrets are Key Vault references only.
var baseSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'python'
  // 10 activities + 6 orchestrator/entity episodes + 8 HTTP handlers = 24 threads per instance (see above).
  PYTHON_THREADPOOL_THREAD_COUNT: string(pythonThreadCount)
  SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
  ENABLE_ORYX_BUILD: 'true'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__blobServiceUri: storageEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storageEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storageEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AETHERV_TASK_HUB: taskHubName
  AETHERV_HOSTS: aethervHosts
  AETHERV_WINRM_USERNAME: winrmUsername
  AETHERV_WINRM_PASSWORD: '@Microsoft.KeyVault(SecretUri=${winrmPasswordSecretUri})'
  AETHERV_WINRM_TRANSPORT: winrmTransport
  AETHERV_WINRM_CA_BUNDLE: winrmCaBundlePath
  AETHERV_APPROVAL_HOSTS: approvalHosts
  AETHERV_APPROVAL_CLUSTERS: approvalClusters
  AETHERV_AUTH_MODE: 'entra'
  AETHERV_ENTRA_AUTHORITY: loginEndpoint
  AETHERV_ENTRA_TENANT_ID: entraTenantId
  AETHERV_ENTRA_CLIENT_ID: apiClientId
  AETHERV_ENTRA_APP_ID_URI: apiAppIdUri
  AETHERV_EASY_AUTH_ENABLED: enableEasyAuth ? 'true' : 'false'
  AETHERV_SEAL_KEY: '@Microsoft.KeyVault(SecretUri=${sealKeySecretUri})'
  AETHERV_BUILD_COMMIT: buildCommit
  AETHERV_EVENTGRID_ENDPOINT: eventGridEndpoint
  AETHERV_EVENT_RETRY_HORIZON: eventRetryHorizon
}

// Webhooks only when receivers are configured: the secret's Key Vault reference must then resolve.
var webhookSettings = empty(webhookUrls) ? {} : {
  AETHERV_WEBHOOK_URLS: webhookUrls
  AETHERV_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${webhookSecretUri})'
}

// Elastic Premium keeps the app content on Azure Files, which only takes a key-based connection string: it is a
// Key Vault reference (resolved with the user-assigned identity even on create), so App Service cannot validate
// the share and the share is created by storage.bicep.
var contentSettings = isElasticPremium ? {
  WEBSITE_CONTENTAZUREFILECONNECTIONSTRING: '@Microsoft.KeyVault(SecretUri=${contentConnectionSecretUri})'
  WEBSITE_CONTENTSHARE: contentShareName
  WEBSITE_SKIP_CONTENTSHARE_VALIDATION: '1'
} : {}

var appSettings = union(baseSettings, contentSettings, webhookSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy needs at least three instances and a region/SKU that offers it; an operator choice, not a default.
  name: planName
  location: location
  tags: tags
  kind: isElasticPremium ? 'elastic' : 'linux'
  sku: {
    name: planSku
    tier: planTiers[planSku]
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: isElasticPremium ? maximumElasticWorkerCount : null
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: The API is called from outside Azure networks (people, scripts, multi-tenant Logic Apps); every call needs an Entra token.
  // checkov:skip=CKV_AZURE_17: Callers authenticate with Entra bearer tokens; Logic Apps managed identities and the health probe carry no client certificate.
  // checkov:skip=CKV_AZURE_212: Instance count is the operator's choice (EP scales out itself); Durable work survives losing an instance (state is in storage).
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    reserved: true
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    publicNetworkAccess: 'Enabled'
    // Regional VNet integration: outbound traffic leaves through the delegated subnet. With vnetRouteAllEnabled all of
    // it does (not only RFC 1918 destinations), so the VNet's routes, NSG and DNS servers apply to every connection,
    // including hosts whose addresses are not private ranges and the Key Vault reference lookups
    // (https://learn.microsoft.com/azure/app-service/overview-vnet-integration#application-routing).
    virtualNetworkSubnetId: useVnet ? vnetIntegrationSubnetId : null
    vnetRouteAllEnabled: useVnet
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      alwaysOn: !isElasticPremium
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      remoteDebuggingEnabled: false
      use32BitWorkerProcess: false
      healthCheckPath: '/api/healthz'
      minimumElasticInstanceCount: isElasticPremium ? 1 : null
      functionAppScaleLimit: isElasticPremium ? maximumElasticWorkerCount : null
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
  }
}

// Deployments (azd deploy, az functionapp deployment) authenticate with Entra ID; no FTP or SCM passwords.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// Optional App Service Authentication. The app validates bearer tokens itself either way; with this on it also
// trusts the injected principal header (AETHERV_EASY_AUTH_ENABLED above follows the same parameter). Always
// deployed, so that turning the parameter off also turns the module off.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: Easy Auth is optional by design (enableEasyAuth); the app always validates Entra tokens itself (AETHERV_AUTH_MODE=entra).
  // checkov:skip=CKV_AZURE_63: This is the authsettingsV2 config, not the web config; Functions telemetry goes to Application Insights.
  // checkov:skip=CKV_AZURE_65: This is the authsettingsV2 config, not the web config; Functions telemetry goes to Application Insights.
  // checkov:skip=CKV_AZURE_66: This is the authsettingsV2 config, not the web config; Functions telemetry goes to Application Insights.
  // checkov:skip=CKV_AZURE_80: Not applicable: a Python app on Linux, and this is the authsettingsV2 config.
  // checkov:skip=CKV_AZURE_88: Not applicable to the authsettingsV2 config (Elastic Premium content is on Azure Files via app settings).
  // checkov:skip=CKV_AZURE_222: A config resource has no network access of its own; see the site's CKV_AZURE_222 skip.
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: enableEasyAuth
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: easyAuthExcludedPaths
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: apiClientId
          openIdIssuer: '${loginEndpoint}${entraTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            apiClientId
            apiAppIdUri
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
