// Package acceptance drives the built adldapctl binary against real beds:
// Debian with real systemd under systemd-nspawn, the Windows adldapctl.exe
// under Wine (real msiexec, service control manager, registry and
// certificate stores, with sample connector MSIs), and loopback servers
// the tests start themselves. Run with -tags acceptance (make test does).
package acceptance
