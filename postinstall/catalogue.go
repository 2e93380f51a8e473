package postinstall

// Catalogue returns every check of SPEC's catalogue, in report order.
// Checks register here as they are built.
func Catalogue() []Check {
	var cs []Check
	for _, group := range [][]Check{localChecks(), tenantChecks(), ldapChecks()} {
		cs = append(cs, group...)
	}
	return cs
}

// Each group lives in its own file: local.go (install.files, config.valid,
// config.perms, service.running, version.current, node.runtime,
// disk.space, cache.groups, kerberos.config, proxy.config), tenant.go
// (clock.skew, tenant.reach, tenant.hub, tenant.tls, certs.thumbprint) and
// ldap.go (ldap.discover, ldap.reach, ldap.bind, ldap.search).
