import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatListenAddress, parseListenAddress } from './listen-address.js';

describe('parseListenAddress', () => {
  it('reads host:port, bracketed IPv6 and a bare :port (loopback)', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListenAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListenAddress(':9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListenAddress('0.0.0.0:80'), { host: '0.0.0.0', port: 80 });
    assert.equal(formatListenAddress({ host: '::1', port: 9 }), '[::1]:9');
  });

  it('refuses what is not host:port', () => {
    for (const text of ['9464', 'localhost', 'host:99999', 'host:port', '::1:9464', ''])
      assert.equal(parseListenAddress(text), undefined, text);
  });
});
