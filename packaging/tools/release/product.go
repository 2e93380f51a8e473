// Package release builds adldapctl's release artifacts: static binaries,
// archives, .deb and .rpm packages (nfpm as a library), shell completion
// and a man page generated from the cobra tree, SHA256SUMS with a minisign
// signature, and the signed self-update mirror. It lives in the tools
// module so nfpm's dependency graph stays out of adldapctl's go.mod; it
// never touches the host beyond its output folder.
package release

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Product is the one description of adldapctl every package format is
// rendered from (packaging/product.json).
type Product struct {
	Name        string `json:"name"`
	Maintainer  string `json:"maintainer"`
	Vendor      string `json:"vendor"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Homepage    string `json:"homepage"`
	License     string `json:"license"`
}

// LoadProduct reads a product description and checks every field is set.
func LoadProduct(path string) (Product, error) {
	var p Product
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("product description: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("product description %s: %w", path, err)
	}
	for name, v := range map[string]string{"name": p.Name, "maintainer": p.Maintainer, "summary": p.Summary,
		"description": p.Description, "homepage": p.Homepage, "license": p.License} {
		if v == "" {
			return p, fmt.Errorf("product description %s: %q is empty: set it", path, name)
		}
	}
	return p, nil
}
