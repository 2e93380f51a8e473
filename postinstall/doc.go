// Package postinstall is the connector's self-check (`adldapctl verify`)
// and its troubleshooting bundle (`adldapctl export`). It owns the checks
// of SPEC's catalogue, the engine that runs them concurrently with a
// timeout each, their report (human and JSON) and the redacted bundle. It
// never installs or changes anything: it reads the install, the config
// and the network as the connector would.
package postinstall
