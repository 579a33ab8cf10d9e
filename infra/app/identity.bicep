// The function app's identity. User-assigned, so that it and its role assignments exist before the app is created:
// App Service refuses Key Vault references in WEBSITE_CONTENTAZUREFILECONNECTIONSTRING on create unless they are
// resolved with a user-assigned identity (keyVaultReferenceIdentity), and the first start then finds its roles.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
