// Package installer owns the connector's install, repair, update, downgrade
// and rollback as one journaled transaction, from resolving the release to
// committing it: resolve → download → verify → stage → stop → switch →
// start → health → commit, or roll back. Every phase is journaled first so
// an interrupted run is finished or undone by the next one.
//
// It reads releases through updater.Source and fetches them through a
// Fetcher (updater.Downloader), so the feed's kind never matters here: the
// installer sees a release, an artifact and its trust basis. What differs
// per platform is one Step (Linux: stage a tree, swap folders, carry the
// customer's files); the service manager, the process runner (node, npm),
// the clock and the phase hook are passed in through Options, so the whole
// transaction runs in-process in tests with fakes.
//
// A Linux release is the source tree, whose dependencies npm installs, or a
// connector bundle whose node_modules BuildBundle built once on a connected
// machine: a bundle that fits the host's node (major and ABI) is preferred,
// checked before anything changes, and installed without npm.
//
// It never prints: progress goes to Options.Logf and the outcome is a Result
// the caller renders.
package installer
