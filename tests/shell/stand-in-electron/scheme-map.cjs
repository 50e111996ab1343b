'use strict';
// Chromium without Electron has no custom schemes, and page.route never sees them (DESIGN.md). So
// each scheme main registers as privileged+standard gets an https origin of its own, one-to-one:
//   app://renderer/x  <->  https://renderer.app.scheme.invalid/x
// Only schemes main really registered are mapped; anything else stays as it is and fails to load.
const SUFFIX = '.scheme.invalid';

function createSchemeMap() {
  const schemes = new Set();
  const register = (scheme) => {
    if (!/^[a-z][a-z0-9-]*$/.test(scheme)) throw new Error(`stand-in electron: scheme ${scheme} cannot be mapped`);
    schemes.add(scheme);
  };
  /** app://renderer/x -> https://renderer.app.scheme.invalid/x; null when the scheme is not registered. */
  const toPage = (url) => {
    let u;
    try {
      u = new URL(url);
    } catch {
      return null;
    }
    const scheme = u.protocol.slice(0, -1);
    if (!schemes.has(scheme) || !u.host) return null;
    return `https://${u.host}.${scheme}${SUFFIX}${u.pathname}${u.search}${u.hash}`;
  };
  /** The reverse; URLs of no mapped origin come back unchanged. */
  const fromPage = (url) => {
    let u;
    try {
      u = new URL(url);
    } catch {
      return url;
    }
    if (u.protocol !== 'https:' || !u.hostname.endsWith(SUFFIX)) return url;
    const labels = u.hostname.slice(0, -SUFFIX.length).split('.');
    const scheme = labels.pop();
    if (!schemes.has(scheme) || labels.length === 0) return url;
    return `${scheme}://${labels.join('.')}${u.pathname}${u.search}${u.hash}`;
  };
  const isMappedOrigin = (url) => fromPage(url) !== url;
  /** A scheme-source in a CSP (`firellava-attachment:`) becomes its mapped origins. */
  const mapCsp = (csp) =>
    csp
      .split(';')
      .map((d) =>
        d
          .split(/\s+/)
          .map((token) => (token.endsWith(':') && schemes.has(token.slice(0, -1)) ? `https://*.${token.slice(0, -1)}${SUFFIX}` : token))
          .join(' '),
      )
      .join(';');
  return { register, toPage, fromPage, isMappedOrigin, mapCsp, schemes };
}

module.exports = { createSchemeMap };
