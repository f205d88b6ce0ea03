import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackAddress, isLoopbackHost } from './listen.js';

describe('loopback names', () => {
  it('takes localhost, 127.0.0.0/8 and [::1], with or without a port, as a request to this machine', () => {
    for (const host of [
      'localhost',
      'LOCALHOST:9465',
      '127.0.0.1',
      '127.0.0.1:9465',
      '127.1.2.3:80',
      '[::1]',
      '[::1]:9465',
    ])
      assert.equal(isLoopbackHost(host), true, host);
  });

  it('takes anything else for another name, a DNS name rebound to 127.0.0.1 included', () => {
    for (const host of [
      undefined,
      '',
      'attacker.example',
      'attacker.example:9465',
      '127.0.0.1.nip.io',
      '10.0.0.1',
      '[::2]:9465',
      '127.0.0.256',
      'localhost.attacker.example',
    ])
      assert.equal(isLoopbackHost(host), false, String(host));
  });

  it('knows which listen addresses are loopback only', () => {
    assert.deepEqual(['127.0.0.1', '::1', 'localhost', '0.0.0.0', '::', '192.168.1.10'].map(isLoopbackAddress), [
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
  });
});
