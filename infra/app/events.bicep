// The Event Grid custom topic the app publishes its events to (CloudEvents 1.0 input schema), and the app
// identity's right to publish to it: EventGrid Data Sender d5a91429-5739-47e2-a06b-3470a27159e7, on the topic only.
// Local (key and SAS) authentication is off: only Entra identities publish. Subscribers (a Logic App, a Function, a
// webhook) subscribe to the topic with event type filters: see infra/examples/logicapp-job-failed.bicep.
param name string
param location string
param tags object
param appPrincipalId string

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  // checkov:skip=CKV_AZURE_193: The app publishes over the public endpoint when it has no VNet integration (hybrid connections); local auth is off, so only Entra identities with EventGrid Data Sender can publish.
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, appPrincipalId, eventGridDataSender)
  scope: topic
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
  }
}

output name string = topic.name
output id string = topic.id
output endpoint string = topic.properties.endpoint
