// Command winnssm stands in for nssm.exe (the Non-Sucking Service Manager)
// that the Auth0 AD/LDAP Connector's MSI ships, in adldapctl's Windows
// tests (testfeed.WindowsPrograms builds it; the sample MSIs pack it as
// nssm.exe and register it as the image of both services).
//
//	nssm.exe [NAME]
//
// Like real nssm it is the service's image with no arguments (or the
// service name): it calls svc.Run explicitly (under Wine
// svc.IsWindowsService is false), takes its service name from the SCM's
// start arguments (else NAME), and reads what to run from
// HKLM\SYSTEM\CurrentControlSet\Services\<name>\Parameters, nssm's layout:
//
//	Application          REG_SZ/REG_EXPAND_SZ  program (node.exe)
//	AppDirectory         REG_SZ/REG_EXPAND_SZ  working folder (default: the program's folder)
//	AppParameters        REG_SZ/REG_EXPAND_SZ  the rest of the command line, verbatim
//	AppEnvironmentExtra  REG_MULTI_SZ          KEY=VALUE entries added to the environment
//	AppEnvironment       REG_MULTI_SZ          KEY=VALUE entries replacing it (rarely used)
//	AppStdout, AppStderr REG_SZ/REG_EXPAND_SZ  files the child's output is appended to
//
// It starts the program as a child, reports Running once the child has
// lived for a second, kills the child on Stop or Shutdown (reporting
// Stopped, exit code 0), and when the child exits on its own it reports
// Stopped with a service-specific exit code (the child's, or 1), so the
// SCM sees a failed service. Real nssm would restart the child instead.
//
// Other nssm commands (install, remove, set, ...) are not implemented: the
// MSI registers the services itself and adldapctl writes the registry.
package main
