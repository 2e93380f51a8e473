// Package installer applies a verified connector artifact to the system as
// one transaction, for a fresh install, a repair, an update and a rollback:
// extract (refusing hostile archives), install dependencies, keep the
// customer's files, switch, register and start the service, health-gate,
// commit or roll back. Every phase is journaled first so an interrupted run
// is finished or undone by the next one. It knows nothing of feeds: it is
// handed a file that updater already verified.
package installer
