// Package platform owns the operating system: it detects the OS, distro and
// init system once (Detect), knows every system path (all under --root),
// manages services, checks privileges, takes the process lock and writes
// files atomically. It knows nothing of the connector or of feeds; callers
// never switch on runtime.GOOS themselves.
package platform
