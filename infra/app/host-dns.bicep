// Name resolution for the Hyper-V hosts when connectivity = 'vnet': one Azure private DNS zone per host, named
// exactly like the host (e.g. hv01.corp.contoso.com), whose apex A record is the host's private address, linked to
// the VNet the app is integrated with. A zone per host rather than one zone for the whole domain: a private zone
// answers every name under it, so a zone for corp.contoso.com linked to a shared VNet would hide every other
// corp.contoso.com name from that VNet; a zone per host shadows only the host's own name.
//
// The app connects to the name (its WinRM certificate is checked against it), so the name must resolve inside the
// VNet. Private zones answer only through Azure DNS: when the VNet uses custom DNS servers (e.g. on-premises DNS),
// those resolve the names instead and the hosts need no address here.
// https://learn.microsoft.com/azure/dns/private-dns-overview, .../private-dns-virtual-network-links
param tags object

@description('One entry per host: [{ name: FQDN, address: private IPv4 or empty }]; hosts without an address get no zone.')
param records array

@description('Resource id of the VNet the app is integrated with.')
param virtualNetworkId string

resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' = [for r in records: if (!empty(r.address)) {
  name: r.name
  location: 'global'
  tags: tags
}]

resource apex 'Microsoft.Network/privateDnsZones/A@2020-06-01' = [for (r, i) in records: if (!empty(r.address)) {
  parent: zone[i]
  name: '@'
  properties: {
    ttl: 300
    aRecords: [
      {
        ipv4Address: r.address
      }
    ]
  }
}]

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (r, i) in records: if (!empty(r.address)) {
  parent: zone[i]
  name: 'link-${uniqueString(virtualNetworkId)}'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: virtualNetworkId
    }
  }
}]

output zones array = filter(records, r => !empty(r.address))
