package connector

import (
	"path/filepath"
	"strings"
)

// Customer files relative to the install dir, always kept.
const (
	ConfigFile        = "config.json"
	CertsDir          = "certs"
	DefaultMapperFile = "lib/profileMapper.js"
)

// CustomerPaths returns the paths, relative to installDir (slash form),
// that the customer owns and every install, update, rollback and uninstall
// (without --purge) keeps byte for byte: config.json, certs/, the profile
// mapper (PROFILE_MAPPER_FILE or lib/profileMapper.js) and the SSL_CA_PATH
// folder when it lies inside the install dir. cfg may be nil.
func CustomerPaths(installDir string, cfg *Config) []string {
	paths := []string{ConfigFile, CertsDir}
	mapper := DefaultMapperFile
	if cfg != nil {
		if m := cfg.String("PROFILE_MAPPER_FILE"); m != "" {
			if rel, ok := inside(installDir, m); ok {
				mapper = rel
			}
		}
	}
	paths = append(paths, mapper)
	if mapper != DefaultMapperFile {
		// The default mapper may still be customised even when unused.
		paths = append(paths, DefaultMapperFile)
	}
	if cfg != nil {
		if ca := cfg.String("SSL_CA_PATH"); ca != "" {
			if rel, ok := inside(installDir, ca); ok && rel != "." {
				paths = append(paths, rel)
			}
		}
	}
	return paths
}

// inside resolves p (absolute, or relative to installDir as the connector's
// working directory) and returns it relative to installDir when it lies
// inside it.
func inside(installDir, p string) (string, bool) {
	if !filepath.IsAbs(p) {
		p = filepath.Join(installDir, p)
	}
	rel, err := filepath.Rel(installDir, filepath.Clean(p))
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
