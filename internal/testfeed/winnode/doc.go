// Command winnode stands in for the node.exe that the Auth0 AD/LDAP
// Connector's MSI ships, in adldapctl's Windows tests (it is built for
// windows/amd64 by testfeed.WindowsPrograms and packed into the sample MSIs
// as node.exe). It runs no JavaScript: it reads the stamp lines of the
// script it is given and behaves like the Linux sample connector
// (internal/testfeed/sample/server.js).
//
//	node.exe [--service NAME] SCRIPT
//
// SCRIPT is server.js (the connector) or admin\server.js (the admin UI),
// relative to the working directory or absolute, quoted or not. The install
// folder is the script's folder (the parent of admin\ for the admin script);
// config.json and package.json are read from there, whatever the working
// directory.
//
// The connector (server.js):
//   - exits 1 at once with a message when server.js says
//     `const CRASH_ON_START = true;`;
//   - needs its profile mapper (config.json PROFILE_MAPPER_FILE, relative to
//     the install folder, else lib\profileMapper.js) and exits 1 without it;
//   - listens on 127.0.0.1:PORT (config.json PORT, else the PORT variable,
//     else 38357) and answers GET / with
//     {"version":"X.Y.Z","ticket":bool,"proxy_env":bool,"proxy_vars":[names],"pid":N}.
//
// The admin UI (admin\server.js) listens on 127.0.0.1:ADMIN_PORT
// (config.json ADMIN_PORT, a test-only key, else admin\server.js's
// `const ADMIN_PORT = N;`, else 8357) and answers GET / with
// {"admin":true,"version":...,"ticket":...,"proxy_env":...,"proxy_vars":...,"pid":N}.
//
// The version is server.js's `const VERSION = '...';` stamp, else
// package.json's "version". "ticket" says whether config.json has a
// non-empty PROVISIONING_TICKET (or the variable is set); "proxy_env"
// whether HTTP_PROXY or HTTPS_PROXY is set in the process environment, and
// "proxy_vars" which of HTTP_PROXY, HTTPS_PROXY, NO_PROXY are: names only,
// never a value.
//
// With --service NAME it runs as the Windows service NAME itself (the
// "direct" MSI variant, no nssm): it calls svc.Run explicitly (under Wine
// svc.IsWindowsService is false), reports Running once it listens, stops on
// Stop/Shutdown, and when it cannot start it reports Stopped with
// service-specific exit code 1. It applies the service's Environment value
// (REG_MULTI_SZ under HKLM\SYSTEM\CurrentControlSet\Services\NAME) itself:
// Windows' SCM does that for every service, Wine 8's does not (seen).
// Without --service it serves until killed (nssm's child).
package main
