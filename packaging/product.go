package packaging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// Product is the one description of adldapctl every package format (.deb,
// .rpm, .msi) is rendered from: packaging/product.json.
type Product struct {
	Name        string `json:"name"`
	Maintainer  string `json:"maintainer"`
	Vendor      string `json:"vendor"`
	Summary     string `json:"summary"`
	Description string `json:"description"`
	Homepage    string `json:"homepage"`
	// License is an SPDX identifier (the LICENSE file's license).
	License string `json:"license"`
	// UpgradeCode is the MSI's fixed UpgradeCode, adldapctl's own (not
	// the connector's): never change it, or upgrades install side by side.
	UpgradeCode string `json:"upgrade_code"`
}

// ParseProduct decodes a product description (unknown fields refused)
// and checks every field is set.
func ParseProduct(b []byte) (Product, error) {
	var p Product
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, err
	}
	fields := map[string]string{"name": p.Name, "maintainer": p.Maintainer, "vendor": p.Vendor, "summary": p.Summary,
		"description": p.Description, "homepage": p.Homepage, "license": p.License, "upgrade_code": p.UpgradeCode}
	var empty []string
	for name, v := range fields {
		if v == "" {
			empty = append(empty, name)
		}
	}
	if len(empty) > 0 {
		sort.Strings(empty)
		return p, fmt.Errorf("%q is empty: set it", empty[0])
	}
	if !guidRE.MatchString(p.UpgradeCode) {
		return p, fmt.Errorf("upgrade_code %q is not an upper-case {GUID}", p.UpgradeCode)
	}
	return p, nil
}
