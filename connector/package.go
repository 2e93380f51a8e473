package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// maxPackageJSON bounds how much of a release's package.json is read.
const maxPackageJSON = 4 << 20

// Package is what adldapctl reads from a release's package.json.
type Package struct {
	Name         string
	Version      string // "0.0.0" in the connector's own releases: the tag is the version
	EnginesNode  string // engines.node, "" when the package sets none
	Dependencies map[string]string
}

// ReadPackage reads the package.json at path: the one reader of it. A UTF-8
// byte order mark is tolerated; a file larger than 4 MiB is refused.
func ReadPackage(path string) (*Package, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxPackageJSON {
		return nil, fmt.Errorf("%s is %d bytes: too large for a package.json", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, BOM)
	var raw struct {
		Name         string            `json:"name"`
		Version      string            `json:"version"`
		Engines      json.RawMessage   `json:"engines"`
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	p := &Package{Name: raw.Name, Version: raw.Version, Dependencies: raw.Dependencies}
	if len(raw.Engines) == 0 || string(raw.Engines) == "null" {
		return p, nil
	}
	var engines map[string]json.RawMessage
	if err := json.Unmarshal(raw.Engines, &engines); err != nil {
		return nil, fmt.Errorf("parse %s: \"engines\" is not an object", path)
	}
	if node, ok := engines["node"]; ok && string(node) != "null" {
		if err := json.Unmarshal(node, &p.EnginesNode); err != nil {
			return nil, fmt.Errorf("parse %s: \"engines.node\" is not a string", path)
		}
	}
	return p, nil
}
