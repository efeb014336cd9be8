import { BlockList, isIPv4 } from 'node:net'

// What a portal's REST API never is: this machine, its networks, its link. An event naming such
// a host would make the service send tokens and requests inside (RFC 1122, 1918, 3927, 4193,
// 4291, 6598). IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is matched against the IPv4 ranges by BlockList.
const blocked = new BlockList()
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4')
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6')
}

/** Whether `address` (an IP address) is a loopback, private, link-local or unspecified one. */
export const isPrivateAddress = (address: string): boolean => blocked.check(address, isIPv4(address) ? 'ipv4' : 'ipv6')

/** Whether `address` is this machine's own (`127.0.0.0/8`, `::1`, or IPv4-mapped `::ffff:127.…`). */
export const isLoopbackAddress = (address: string): boolean => /^(::ffff:)?127\./i.test(address) || address === '::1'
