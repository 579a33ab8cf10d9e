// One direction of a VNet peering, declared on localVnetName (in this module's resource group) towards
// remoteVnetId. main.bicep uses it twice for the app's VNet and the hub VNet that holds the VPN or ExpressRoute
// gateway: first hub -> app with allowGatewayTransit, then app -> hub with useRemoteGateways, in that order, because
// Azure refuses useRemoteGateways until the hub's side allows gateway transit.
param localVnetName string
param name string
param remoteVnetId string
param allowGatewayTransit bool = false
param useRemoteGateways bool = false

resource localVnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: localVnetName
}

resource peering 'Microsoft.Network/virtualNetworks/virtualNetworkPeerings@2024-05-01' = {
  parent: localVnet
  name: name
  properties: {
    remoteVirtualNetwork: {
      id: remoteVnetId
    }
    allowVirtualNetworkAccess: true
    allowForwardedTraffic: true
    allowGatewayTransit: allowGatewayTransit
    useRemoteGateways: useRemoteGateways
  }
}

output id string = peering.id
