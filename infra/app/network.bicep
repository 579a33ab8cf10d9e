// The VNet the function app joins when connectivity = 'vnet' and no existing subnet is given: one subnet, delegated
// to Microsoft.Web/serverFarms (regional VNet integration), with a network security group. main.bicep peers it with
// the hub VNet whose VPN or ExpressRoute gateway reaches the Hyper-V hosts (vnet-peering.bicep, both directions).
//
// Regional VNet integration needs a subnet in the app's region, delegated to Microsoft.Web/serverFarms, at least /28;
// /26 leaves room for scale-out, since every instance takes an address
// (https://learn.microsoft.com/azure/app-service/overview-vnet-integration#subnet-requirements).
param name string
param subnetName string
param nsgName string
param location string
param tags object

@description('Address space of the VNet, all of it given to the integration subnet. Must not overlap the hub VNet or the on-premises networks.')
param addressPrefix string

@description('DNS servers of the VNet (e.g. on-premises DNS reachable over the VPN); empty uses Azure DNS, which answers from the private DNS zones linked to the VNet (host-dns.bicep).')
param dnsServers array = []

// The integration subnet carries only the app's outbound connections. The default rules allow what it needs:
// AllowVnetOutBound covers the VNet, peered VNets and the on-premises ranges the gateway advertises; Internet
// outbound reaches Storage, Key Vault, Entra ID and Application Insights. Nothing listens in it, so nothing inbound.
resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: nsgName
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    dhcpOptions: empty(dnsServers) ? null : {
      dnsServers: dnsServers
    }
    // Declared inline, so that a later deployment does not remove the subnet the app is integrated with.
    subnets: [
      {
        name: subnetName
        properties: {
          addressPrefix: addressPrefix
          networkSecurityGroup: {
            id: nsg.id
          }
          delegations: [
            {
              name: 'Microsoft.Web.serverFarms'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
    ]
  }
}

output vnetId string = vnet.id
output vnetName string = vnet.name
output subnetId string = resourceId('Microsoft.Network/virtualNetworks/subnets', vnet.name, subnetName)
