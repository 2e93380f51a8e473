'use strict';
// Test-only outbound probe of the sample connector: proves that the proxy
// adldapctl configures is the one the service uses. When config.json sets
// TEST_OUTBOUND_URL (an https:// URL), GET /outbound-probe makes an HTTPS
// GET to it through the proxy in process.env.HTTP_PROXY (the service
// environment), else config.json's HTTP_PROXY, as the real connector
// chooses, and answers {"ok":true,"via":"proxy"|"direct","status":N} or
// {"ok":false,"error":"..."}. TEST_OUTBOUND_CA names a PEM file the probe
// trusts for that URL (test-only; the real connector's trust is the OS
// store or SSL_CA_PATH).
//
// The tunnel is an HTTP CONNECT written with node's own modules. Unlike
// the real connector, whose tunnel agent passes only host and port (so a
// proxy that needs credentials may not work from it), this one sends Basic
// proxy credentials from the URL's userinfo: the test proxy requires them.
// Like the real one it has no loopback exemption. Nothing here prints or
// returns the proxy URL or its password.

const fs = require('fs');
const http = require('http');
const net = require('net');
const tls = require('tls');

const TIMEOUT_MS = 10000;

function attach(server, config) {
  const target = config.TEST_OUTBOUND_URL;
  if (typeof target !== 'string' || target === '') {
    return;
  }
  // Read once at start, as the connector reads its settings.
  const proxy = process.env.HTTP_PROXY || config.HTTP_PROXY || '';
  let ca;
  if (config.TEST_OUTBOUND_CA) {
    try {
      ca = fs.readFileSync(String(config.TEST_OUTBOUND_CA));
    } catch (err) {
      console.error('outbound probe: cannot read TEST_OUTBOUND_CA: ' + err.code);
    }
  }
  const others = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    if ((req.url || '/').split('?')[0] !== '/outbound-probe') {
      others.forEach((l) => l.call(server, req, res));
      return;
    }
    probe(target, proxy, ca, (result) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(result) + '\n');
    });
  });
}

function probe(target, proxy, ca, done) {
  let finished = false;
  const finish = (result) => {
    if (!finished) {
      finished = true;
      done(result);
    }
  };
  let t;
  try {
    t = new URL(target);
  } catch (err) {
    return finish({ ok: false, error: 'TEST_OUTBOUND_URL is not a URL' });
  }
  if (t.protocol !== 'https:') {
    return finish({ ok: false, error: 'TEST_OUTBOUND_URL must be https://' });
  }
  const host = t.hostname.replace(/^\[|\]$/g, '');
  const port = Number(t.port || 443);
  const servername = net.isIP(host) ? undefined : host;
  // get makes one GET over a TLS connection (opened on socket, a CONNECT
  // tunnel, or directly) that verifies the server against ca.
  const get = (socket, via) => {
    // host also names the identity the certificate must carry.
    const opts = { host, port, servername, ca };
    if (socket) {
      opts.socket = socket;
    }
    const conn = tls.connect(opts);
    conn.setTimeout(TIMEOUT_MS, () => conn.destroy(new Error('timeout')));
    conn.on('error', (err) => finish({ ok: false, via, error: err.code || err.message }));
    conn.on('secureConnect', () => {
      conn.write('GET ' + (t.pathname + t.search) + ' HTTP/1.1\r\nHost: ' + t.host +
        '\r\nConnection: close\r\n\r\n');
    });
    let head = '';
    conn.on('data', (chunk) => {
      if (finished) {
        return;
      }
      head += chunk.toString('latin1');
      const eol = head.indexOf('\r\n');
      if (eol >= 0) {
        const status = Number(head.slice(0, eol).split(' ')[1]);
        finish({ ok: status > 0 && status < 400, via, status });
        conn.destroy();
      }
    });
    conn.on('end', () => finish({ ok: false, via, error: 'connection closed before a response' }));
  };
  if (!proxy) {
    return get(null, 'direct');
  }
  let p;
  try {
    p = new URL(proxy);
  } catch (err) {
    return finish({ ok: false, error: 'HTTP_PROXY is not a URL' });
  }
  if (p.protocol !== 'http:') {
    return finish({ ok: false, error: 'the probe tunnels through http:// proxies only' });
  }
  const headers = { Host: host + ':' + port };
  if (p.username) {
    const cred = decodeURIComponent(p.username) + ':' + decodeURIComponent(p.password);
    headers['Proxy-Authorization'] = 'Basic ' + Buffer.from(cred).toString('base64');
  }
  const connect = http.request({
    host: p.hostname.replace(/^\[|\]$/g, ''), port: Number(p.port || 80), method: 'CONNECT',
    path: host.includes(':') ? '[' + host + ']:' + port : host + ':' + port, headers, agent: false,
    timeout: TIMEOUT_MS,
  });
  connect.on('timeout', () => connect.destroy(new Error('timeout')));
  connect.on('error', (err) => finish({ ok: false, via: 'proxy', error: 'proxy: ' + (err.code || err.message) }));
  connect.on('connect', (res, socket) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      return finish({ ok: false, via: 'proxy', error: 'proxy CONNECT answered ' + res.statusCode });
    }
    get(socket, 'proxy');
  });
  connect.end();
}

module.exports = { attach };
