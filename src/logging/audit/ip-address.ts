import { isIP } from 'node:net';

/**
 * The client address to store: `::ffff:203.0.113.7` (an IPv4 client on an IPv6 socket) as
 * `203.0.113.7`, and null for anything that is not an IP address (a trusted proxy passes
 * `X-Forwarded-For` on as written).
 */
export function clientIp(ip: string | undefined): string | null {
  if (!ip) return null;
  const address =
    ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
  return isIP(address) === 0 ? null : address;
}

/**
 * The network of an address rather than the host: IPv4 to its /24 (`203.0.113.7` →
 * `203.0.113.0`), IPv6 to its /48 (`2001:db8:85a3:8d3::7348` → `2001:db8:85a3::`). A value that is
 * not an IP address comes back unchanged, for validation to refuse.
 */
export function anonymizeIp(ip: string): string {
  const version = isIP(ip);
  if (version === 4) return ip.replace(/\.\d+$/, '.0');
  if (version !== 6) return ip;
  const groups = expandIpv6(ip.replace(/%.*$/, ''));
  const kept = groups.slice(0, 3);
  while (kept.length > 0 && kept[kept.length - 1] === 0) kept.pop();
  return `${kept.map((group) => group.toString(16)).join(':')}::`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing IPv4 part converted). */
function expandIpv6(ip: string): number[] {
  const toGroups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [parseInt(group, 16)];
          const [a, b, c, d] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head, tail] = ip.split('::');
  const left = toGroups(head);
  if (tail === undefined) return left;
  const right = toGroups(tail);
  return [
    ...left,
    ...Array<number>(8 - left.length - right.length).fill(0),
    ...right,
  ];
}
