import { anonymizeIp, clientIp } from './ip-address.js';

describe('clientIp', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['2001:db8::1', '2001:db8::1'],
    ['203.0.113.7, 10.0.0.1', null],
    ['unknown', null],
    ['', null],
    [undefined, null],
  ])('%s is stored as %s', (ip, stored) => {
    expect(clientIp(ip)).toBe(stored);
  });
});

describe('anonymizeIp', () => {
  it.each([
    ['203.0.113.7', '203.0.113.0'],
    ['10.1.2.255', '10.1.2.0'],
    ['127.0.0.1', '127.0.0.0'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:db8:85a3::'],
    ['2001:db8::1', '2001:db8::'],
    ['2001:db8:0:1::1', '2001:db8::'],
    ['::1', '::'],
    ['fe80::1%eth0', 'fe80::'],
    ['64:ff9b::192.0.2.33', '64:ff9b::'],
    ['2001:db8:ffff:1:2:3:4:5', '2001:db8:ffff::'],
    ['not an ip', 'not an ip'],
  ])('%s is stored as %s', (ip, stored) => {
    expect(anonymizeIp(ip)).toBe(stored);
  });
});
