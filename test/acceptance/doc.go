// Package acceptance drives the built adldapctl binary against real beds:
// Debian with real systemd under systemd-nspawn, and loopback servers the
// tests start themselves. Run with -tags acceptance (make test does).
package acceptance
