package connector

// Customer files relative to the install dir, always kept.
const (
	ConfigFile        = "config.json"
	CertsDir          = "certs"
	DefaultMapperFile = "lib/profileMapper.js"
)
