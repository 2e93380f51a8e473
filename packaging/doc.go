// Package packaging renders the files that put the connector and adldapctl
// into an operating system's hands: the systemd unit, the SysV init script
// and the logrotate snippet for the connector; for adldapctl itself, the
// product description every package format shares (product.json), the
// Debian copyright file and the WiX source of its MSI
// (adldapctl.wxs.tmpl). It is pure: text in, bytes out; it never writes
// files or calls the OS and imports nothing of the project. The release
// build (packaging/tools) turns its output into packages.
package packaging
