import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIdentityHeaderName } from '../../../src/request/identity-header-names.js';

// The definition, without the first-character shortcut.
const reference = (name: string): boolean => {
  const n = name.toLowerCase().replaceAll('_', '-');
  return n.startsWith('x-verdict-') || n.startsWith('tailscale-');
};

describe('identity header names', () => {
  it('every spelling of x-verdict-* and tailscale-*, and nothing else', () => {
    for (const n of ['x-verdict-user', 'X-Verdict-User', 'X_VERDICT_GROUPS', 'x_verdict-email', 'tailscale-user-login', 'Tailscale_App_Capabilities', 'TAILSCALE-FUNNEL-REQUEST']) assert.equal(isIdentityHeaderName(n), true, n);
    for (const n of [':authority', ':path', 'authorization', 'accept', 'x-request-id', 'x-verdict', 'tailscale', 'xverdict-user', 'user-agent', '']) assert.equal(isIdentityHeaderName(n), false, n);
  });

  it('agrees with the full test for every first character (ASCII and characters that fold when lower-cased)', () => {
    const firsts = [...Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)), '\u212a', '\u0130', '\u017f', '\u1e9e', 'ẋ', 'ţ', '\u2126', '\ud835\udc31'];
    for (const f of firsts) {
      for (const rest of ['-verdict-user', '_verdict_user', 'ailscale-user-login', 'ailscale_x', 'ccept', '']) {
        const name = f + rest;
        assert.equal(isIdentityHeaderName(name), reference(name), JSON.stringify(name));
      }
    }
  });
});
