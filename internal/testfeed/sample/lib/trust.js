'use strict';
// Reads CA certificates exactly as the real connector's lib/add_certs.js
// does on Linux, once at start: `openssl version -d` names OPENSSLDIR, and
// every file matching /.+\.(pem|crt|cer)$/ in <OPENSSLDIR>/certs (or in the
// SSL_CA_PATH folder from config.json instead, relative to the working
// directory) becomes https.globalAgent's CA list. A new CA therefore needs a
// restart, as with the real connector.
//
// When config.json sets TEST_TLS_PROBE_URL, GET /tls-probe answers
// {"ok":true,"status":N} or {"ok":false,"code":"<err.code>"} after an https
// GET of that URL with the global agent.

const childProcess = require('child_process');
const fs = require('fs');
const https = require('https');
const path = require('path');

const CERT_FILE = /.+\.(pem|crt|cer)$/;

function caFolder(config) {
  if (config.SSL_CA_PATH) {
    return path.resolve(process.cwd(), String(config.SSL_CA_PATH));
  }
  let out;
  try {
    out = childProcess.execFileSync('openssl', ['version', '-d'], { encoding: 'utf8', timeout: 10000 });
  } catch (err) {
    console.error('trust: openssl version -d failed: ' + (err.code || err.name));
    return null;
  }
  const m = /OPENSSLDIR: "(.*)"/.exec(out);
  if (!m) {
    console.error('trust: no OPENSSLDIR in the output of openssl version -d');
    return null;
  }
  return path.join(m[1], 'certs');
}

function readCAs(dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    console.error('trust: cannot read ' + dir + ': ' + err.code);
    return [];
  }
  const cas = [];
  for (const name of names.filter((n) => CERT_FILE.test(n)).sort()) {
    try {
      cas.push(fs.readFileSync(path.join(dir, name), 'utf8'));
    } catch (err) {
      // A dangling link or a folder: the real connector fails on these
      // too, but only on read; skip it and say so.
      console.error('trust: skipping ' + name + ': ' + err.code);
    }
  }
  return cas;
}

function probe(url, res) {
  let answered = false;
  const send = (body) => {
    if (answered) return;
    answered = true;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body) + '\n');
  };
  let req;
  try {
    req = https.get(url, (r) => {
      r.resume();
      r.on('end', () => send({ ok: true, status: r.statusCode }));
      r.on('error', (err) => send({ ok: false, code: err.code || err.name }));
    });
  } catch (err) {
    send({ ok: false, code: err.code || err.name });
    return;
  }
  req.setTimeout(5000, () => {
    const err = new Error('timed out');
    err.code = 'ETIMEDOUT';
    req.destroy(err);
  });
  req.on('error', (err) => send({ ok: false, code: err.code || err.name }));
}

// trust loads the CAs into https.globalAgent and, with TEST_TLS_PROBE_URL,
// puts GET /tls-probe in front of server's request handlers.
module.exports = function trust(config, server) {
  const dir = caFolder(config);
  if (dir !== null) {
    const cas = readCAs(dir);
    https.globalAgent.options.ca = cas;
    console.log('trust: ' + cas.length + ' CA files read from ' + dir);
  }
  const probeURL = config.TEST_TLS_PROBE_URL;
  if (!probeURL || !server) {
    return;
  }
  const handlers = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    if ((req.url || '/').split('?')[0] === '/tls-probe' && req.method === 'GET') {
      probe(String(probeURL), res);
      return;
    }
    for (const h of handlers) {
      h.call(server, req, res);
    }
  });
};
