package connector

// CAPath resolves SSL_CA_PATH in cfg with the connector's rules (relative
// to the install dir, its working directory). It returns the folder
// relative to the install dir in slash form, or "" when the key is unset;
// a value the connector cannot use, or one outside the install folder, is
// a *CustomerPathError (Outside set for the latter, with the value as
// written in config.json).
func (l Layout) CAPath(cfg *Config) (string, error) {
	rels, err := l.customerPath(cfg, KeyCAPath)
	if err != nil || len(rels) == 0 {
		return "", err
	}
	return rels[0], nil
}
