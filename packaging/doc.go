// Package packaging renders the files that put the connector and adldapctl
// into an operating system's hands: the systemd unit, the SysV init script
// and the logrotate snippet today, package control files and WiX source
// later. It is pure: text in, bytes out; it never writes files or calls the
// OS and imports nothing of the project.
package packaging
