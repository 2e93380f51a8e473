'use strict';
// Stand-in for the Auth0 AD/LDAP Connector's server.js, used by adldapctl's
// tests. It has no dependencies (testfeed's Dependency variant has one, a
// local file: tarball). It reads ./config.json from the working directory (a
// UTF-8 BOM is tolerated), loads the profile mapper like the real connector
// does, and answers GET / with {"version":"X.Y.Z","ticket":bool} (plus
// "dep": the dependency's greeting, when it has one).
// It never prints or returns the value of PROVISIONING_TICKET or any other
// configuration value.

const fs = require('fs');
const http = require('http');
const path = require('path');

// The two lines below are stamped by adldapctl's testfeed when it builds a
// release tarball.
const VERSION = '0.0.0-unstamped';
const CRASH_ON_START = false;

const DEFAULT_PORT = 38357;

function fail(message) {
  console.error('auth0-adldap sample connector ' + VERSION + ': ' + message);
  process.exit(1);
}

function readConfig() {
  const file = path.join(process.cwd(), 'config.json');
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') {
      console.log('no config.json in ' + process.cwd() + ', running unprovisioned');
      return {};
    }
    fail('cannot read ' + file + ': ' + err.code);
  }
  if (text.charCodeAt(0) === 0xfeff) {
    text = text.slice(1);
  }
  try {
    const config = JSON.parse(text);
    if (config === null || typeof config !== 'object' || Array.isArray(config)) {
      fail(file + ' is not a JSON object');
    }
    return config;
  } catch (err) {
    // Deliberately no err.message: V8 quotes part of the input in it, which
    // could be a secret.
    fail(file + ' is not valid JSON');
  }
}

function loadProfileMapper(config) {
  const file = config.PROFILE_MAPPER_FILE
    ? path.resolve(process.cwd(), String(config.PROFILE_MAPPER_FILE))
    : path.join(__dirname, 'lib', 'profileMapper.js');
  let mapper;
  try {
    mapper = require(file);
  } catch (err) {
    fail('cannot load profile mapper ' + file + ': ' + (err.code || err.name));
  }
  if (typeof mapper !== 'function') {
    fail('profile mapper ' + file + ' does not export a function');
  }
  return mapper;
}

function choosePort(config) {
  const raw = config.PORT || process.env.PORT || DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    fail('invalid PORT ' + JSON.stringify(String(raw)));
  }
  return port;
}

// The Dependency sample declares a real npm dependency; like the real
// connector it cannot start without it. The plain sample declares none.
const SAMPLE_DEP = 'adldap-sample-dep';

function loadDependency() {
  let pkg;
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(__dirname, 'package.json'), 'utf8'));
  } catch (err) {
    return null;
  }
  if (!pkg.dependencies || !pkg.dependencies[SAMPLE_DEP]) {
    return null;
  }
  try {
    return require(SAMPLE_DEP);
  } catch (err) {
    fail('cannot load dependency ' + SAMPLE_DEP + ': ' + (err.code || err.name));
  }
}

function main() {
  if (CRASH_ON_START) {
    fail('crashing on start (CrashOnStart sample)');
  }
  const dep = loadDependency();
  const config = readConfig();
  loadProfileMapper(config);
  const port = choosePort(config);
  const hasTicket = typeof config.PROVISIONING_TICKET === 'string'
    ? config.PROVISIONING_TICKET.length > 0
    : Boolean(process.env.PROVISIONING_TICKET);

  const server = http.createServer((req, res) => {
    const url = (req.url || '/').split('?')[0];
    if (url !== '/') {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: 'not found' }) + '\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'Content-Type': 'application/json', Allow: 'GET, HEAD' });
      res.end(JSON.stringify({ error: 'method not allowed' }) + '\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const answer = { version: VERSION, ticket: hasTicket };
    if (dep) {
      answer.dep = dep.greet();
    }
    res.end(JSON.stringify(answer) + '\n');
  });
  require('./lib/outbound').attach(server, config);
  server.on('error', (err) => fail('cannot listen on 127.0.0.1:' + port + ': ' + err.code));
  require('./lib/trust')(config, server); // CAs as lib/add_certs.js reads them; GET /tls-probe
  server.listen(port, '127.0.0.1', () => {
    console.log('auth0-adldap sample connector ' + VERSION + ' listening on 127.0.0.1:' + port);
  });

  const stop = (signal) => {
    console.log('auth0-adldap sample connector ' + VERSION + ' stopping on ' + signal);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main();
