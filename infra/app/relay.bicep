// Azure Relay namespace with one hybrid connection per Hyper-V host, each linked to the function app, so the app's
// WinRM client simply connects to <host>:<port> and the Hybrid Connection Manager on-premises carries the TCP stream.
//
// hybridConnections comes from main.bicep (built from the hyperVHosts parameter):
//   [{ name: 'hv01-corp-example-com-5986', hostname: 'hv01.corp.example.com', port: 5986 }, ...]
param name string
param location string
param tags object
param functionAppName string
param hybridConnections array

resource namespace 'Microsoft.Relay/namespaces@2021-11-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
}

resource hybridConnection 'Microsoft.Relay/namespaces/hybridConnections@2021-11-01' = [for hc in hybridConnections: {
  parent: namespace
  name: hc.name
  properties: {
    // App Service only attaches hybrid connections that require client authorization and carry host:port metadata.
    requiresClientAuthorization: true
    userMetadata: '[{"key":"endpoint","value":"${hc.hostname}:${hc.port}"}]'
  }
}]

// The app side sends, the Hybrid Connection Manager listens (its connection string uses defaultListener).
resource sendRule 'Microsoft.Relay/namespaces/hybridConnections/authorizationRules@2021-11-01' = [for (hc, i) in hybridConnections: {
  parent: hybridConnection[i]
  name: 'defaultSender'
  properties: {
    rights: [
      'Send'
    ]
  }
}]

resource listenRule 'Microsoft.Relay/namespaces/hybridConnections/authorizationRules@2021-11-01' = [for (hc, i) in hybridConnections: {
  parent: hybridConnection[i]
  name: 'defaultListener'
  properties: {
    rights: [
      'Listen'
    ]
  }
}]

resource appLink 'Microsoft.Web/sites/hybridConnectionNamespaces/relays@2024-04-01' = [for (hc, i) in hybridConnections: {
  name: '${functionAppName}/${namespace.name}/${hc.name}'
  properties: {
    serviceBusNamespace: namespace.name
    serviceBusSuffix: '.servicebus.windows.net'
    relayName: hybridConnection[i].name
    relayArmUri: hybridConnection[i].id
    hostname: hc.hostname
    port: hc.port
    sendKeyName: sendRule[i].name
    sendKeyValue: sendRule[i].listKeys().primaryKey
  }
}]

output namespaceName string = namespace.name
// What to add in the Hybrid Connection Manager on each on-premises HCM machine (see DEPLOYMENT.md).
output hybridConnections array = [for hc in hybridConnections: {
  name: hc.name
  endpoint: '${hc.hostname}:${hc.port}'
  namespace: namespace.name
}]
