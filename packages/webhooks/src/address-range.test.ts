import { describe, expect, it } from 'vitest';
import { classifyAddress, isAllowedRange, parseIpLiteral, type AddressRange } from './address-range.js';

// Pure functions only: nothing here sends a packet anywhere.
const cases: Record<Exclude<AddressRange, 'public'>, string[]> = {
  unspecified: ['0.0.0.0', '0.1.2.3', '0.255.255.255', '0', '::', '[::]', '0:0:0:0:0:0:0:0', '::ffff:0.0.0.0'],
  loopback: [
    '127.0.0.1',
    '127.255.255.254',
    '127.1',
    '2130706433',
    '0177.0.0.1',
    '0x7f.1',
    '0x7f000001',
    '017700000001',
    '127.0.1',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    '[::ffff:127.0.0.1]',
    '::ffff:7f00:1',
    '64:ff9b::127.0.0.1',
    '64:ff9b::7f00:1',
  ],
  private: [
    '10.0.0.0',
    '10.0.0.1',
    '10.255.255.255',
    '012.1',
    '0xa000001',
    '167772161',
    '172.16.0.0',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.0',
    '192.168.1.1',
    '192.168.255.255',
    '::ffff:10.0.0.1',
    '::ffff:a00:1',
    '::ffff:192.168.0.1',
    '::ffff:ac10:1',
    '64:ff9b::10.0.0.1',
    '64:ff9b::c0a8:101',
    'fc00::',
    'fc00::1',
    'fd12:3456:789a::1',
    'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fec0::1',
  ],
  link_local: ['169.254.0.0', '169.254.0.1', '169.254.255.255', '::ffff:169.254.1.1', 'fe80::', 'fe80::1', 'fe80::1%eth0', 'febf:ffff::1'],
  carrier_nat: ['100.64.0.0', '100.64.0.1', '100.127.255.255', '::ffff:100.64.0.1', '64:ff9b::100.100.0.1'],
  metadata: [
    '169.254.169.254',
    '0xa9fea9fe',
    '2852039166',
    '::ffff:169.254.169.254',
    '::ffff:a9fe:a9fe',
    '64:ff9b::169.254.169.254',
    '169.254.170.2',
    '168.63.129.16',
    '100.100.100.200',
    'fd00:ec2::254',
  ],
  multicast: ['224.0.0.0', '224.0.0.1', '239.255.255.255', '::ffff:224.0.0.1', 'ff00::', 'ff02::1', 'ff05::1:3'],
  reserved: [
    '240.0.0.0',
    '240.0.0.1',
    '255.255.255.254',
    '255.255.255.255',
    '192.0.0.1',
    '192.0.2.1',
    '198.18.0.1',
    '198.19.255.255',
    '198.51.100.1',
    '203.0.113.1',
    '::ffff:240.0.0.1',
    '::1.2.3.4',
    '::2',
    '64:ff9b:1::1',
    '100::1',
    '2001::1',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:2::1',
    '2001:db8::1',
    '2002:7f00:1::1',
    '2002:a00:1::1',
    '3fff::1',
    '4000::1',
    'e000::1',
  ],
  invalid: ['256.0.0.1', '1.2.3.4.5', '0x7g.1', '08.0.0.1', '1:2:3:4:5:6:7:8:9', ':::1', '[fe80::1'],
};

const publicAddresses = [
  '1.1.1.1',
  '8.8.8.8',
  '93.184.216.34',
  '9.255.255.255',
  '11.0.0.0',
  '100.63.255.255',
  '100.128.0.0',
  '126.255.255.255',
  '128.0.0.0',
  '169.253.255.255',
  '169.255.0.0',
  '172.15.255.255',
  '172.32.0.0',
  '192.167.255.255',
  '192.169.0.0',
  '223.255.255.255',
  '::ffff:8.8.8.8',
  '64:ff9b::8.8.8.8',
  '2606:4700:4700::1111',
  '2a00:1450:4001:80b::200e',
  '2001:4860:4860::8888',
];

describe('classifyAddress', () => {
  for (const [range, addresses] of Object.entries(cases)) {
    it(`classifies ${range} addresses in every notation`, () => {
      for (const address of addresses) expect(classifyAddress(address), address).toBe(range);
    });
  }

  it('classifies global unicast addresses as public, right up to the edges of each blocked range', () => {
    for (const address of publicAddresses) expect(classifyAddress(address), address).toBe('public');
  });

  it('answers null for names, which must be resolved first', () => {
    for (const name of ['localhost', 'example.com', 'receiver.test', '1.2.3.4.example', 'xn--bcher-kva.example']) {
      expect(classifyAddress(name), name).toBeNull();
    }
  });
});

describe('parseIpLiteral', () => {
  it('reads every notation a URL host accepts into the canonical address', () => {
    expect(parseIpLiteral('2130706433')).toEqual({ address: '127.0.0.1', family: 4 });
    expect(parseIpLiteral('0177.0.0.1')).toEqual({ address: '127.0.0.1', family: 4 });
    expect(parseIpLiteral('0x7f.1')).toEqual({ address: '127.0.0.1', family: 4 });
    expect(parseIpLiteral('127.1')).toEqual({ address: '127.0.0.1', family: 4 });
    expect(parseIpLiteral('[::ffff:127.0.0.1]')).toEqual({ address: '::ffff:7f00:1', family: 6 });
    expect(parseIpLiteral('[0:0::1]')).toEqual({ address: '::1', family: 6 });
    expect(parseIpLiteral('example.com')).toBeNull();
    expect(parseIpLiteral('1.2.3.4.5')).toBe('invalid');
  });
});

describe('isAllowedRange', () => {
  it('allows public addresses always, private ones only when told, and never metadata, multicast or reserved', () => {
    expect(isAllowedRange('public', false)).toBe(true);
    for (const range of ['loopback', 'private', 'link_local', 'carrier_nat'] as const) {
      expect(isAllowedRange(range, false), range).toBe(false);
      expect(isAllowedRange(range, true), range).toBe(true);
    }
    for (const range of ['metadata', 'unspecified', 'multicast', 'reserved', 'invalid'] as const) {
      expect(isAllowedRange(range, true), range).toBe(false);
    }
  });
});
